"""Stage `images@<survey>`: fetch (or render) the images of the selected galaxies.

The output folder persists across reruns so complete images are never fetched twice; it is
emptied when the source's image identity changes, since its images are then stale.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd

from pipeline import paths
from pipeline.params import Params, Survey
from pipeline.surveys import source_for
from pipeline.surveys.base import MANIFEST_FILE, Source, read_source_info, write_source_info
from stages.common import survey_stage


def source_identity(source: Source) -> str:
    """A digest of ``source.image_identity()``: what the images depend on."""
    blob = json.dumps(source.image_identity(), sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def reset_if_stale(out: Path, source: Source) -> None:
    """Empty ``out`` when the images there were made with other source settings; then note the
    current ones (with the image suffix the prepare stage reads)."""
    identity = source_identity(source)
    if out.exists() and read_source_info(out).get("identity") != identity:
        print(f"source settings changed: discarding the images in {out}")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    write_source_info(out, source, identity=identity)


def run(name: str, survey: Survey, params: Params) -> None:
    source = source_for(name, params)
    selected = pd.read_parquet(paths.selected_file(name))
    out = paths.images_dir(name)
    reset_if_stale(out, source)
    manifest = source.fetch_images(selected, paths.catalogue_dir(name), out)
    manifest.to_csv(out / MANIFEST_FILE, index=False)
    n_ok = int((manifest["status"] == "ok").sum())
    print(f"{name}: {n_ok} of {len(selected)} images in {out}")


def main(argv: list[str] | None = None) -> None:
    survey_stage(__doc__, run, argv)


if __name__ == "__main__":
    main()
