"""Stage `prepare@<survey>`: decode, crop, resize, split and normalise (paper Sect. 2.3)."""
from __future__ import annotations

import pandas as pd

from pipeline import paths, prepare
from pipeline.params import Params, Survey
from pipeline.surveys.base import IMAGES_DIR, read_source_info
from stages.common import survey_stage, write_json


def run(name: str, survey: Survey, params: Params) -> None:
    selected = pd.read_parquet(paths.selected_file(name))
    suffix = read_source_info(paths.images_dir(name))["image_suffix"]  # as the images stage wrote them
    image_dir = paths.images_dir(name) / IMAGES_DIR
    files = [image_dir / f"{gid}{suffix}" for gid in selected["id"]]
    prepared, corrupt = prepare.prepare(selected, files, list(survey.classes), survey.image,
                                        survey.split, params.seed, name)
    prepare.save(prepared, paths.prepared_dir(name))
    index = prepared.index
    write_json(paths.prepare_report(name), {
        "n_images": len(index),
        "n_corrupt": len(corrupt),
        "corrupt": corrupt,
        "splits": {s: int((index["split"] == s).sum()) for s in prepare.SPLITS},
        "mean": prepared.mean,
        "std": prepared.std,
    })
    print(f"{name}: prepared {len(index)} images ({len(corrupt)} corrupt skipped)")


def main(argv: list[str] | None = None) -> None:
    survey_stage(__doc__, run, argv)


if __name__ == "__main__":
    main()
