"""Stage `images@<survey>`: fetch (or render) the images of the selected galaxies."""
from __future__ import annotations

import pandas as pd

from pipeline import paths
from pipeline.params import Params, Survey
from pipeline.surveys import get_source
from pipeline.surveys.base import MANIFEST_FILE
from stages.common import survey_stage


def run(name: str, survey: Survey, params: Params) -> None:
    source = get_source(name, survey, params.seed)
    selected = pd.read_parquet(paths.selected_file(name))
    out = paths.images_dir(name)
    manifest = source.fetch_images(selected, paths.catalogue_dir(name), out)
    manifest.to_csv(out / MANIFEST_FILE, index=False)
    n_ok = int((manifest["status"] == "ok").sum())
    print(f"{name}: {n_ok} of {len(selected)} images in {out}")


def main(argv: list[str] | None = None) -> None:
    survey_stage(__doc__, run, argv)


if __name__ == "__main__":
    main()
