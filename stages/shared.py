"""Stage `shared@<survey>`: the shared params blocks the survey uses (model, augmentation set,
galaxy population), one file each, so later stages depend on exactly those (pipeline/shared.py),
and the survey's colour mapping for FITS input (pipeline/colour.py)."""
from __future__ import annotations

from pipeline import paths
from pipeline.colour import survey_colour, write_colour
from pipeline.params import Params, Survey
from pipeline.shared import shared_blocks, write_shared
from stages.common import survey_stage


def run(name: str, survey: Survey, params: Params) -> None:
    write_shared(paths.shared_dir(name), shared_blocks(params, name))
    write_colour(paths.shared_dir(name), survey_colour(name, survey.source))


def main(argv: list[str] | None = None) -> None:
    survey_stage(__doc__, run, argv)


if __name__ == "__main__":
    main()
