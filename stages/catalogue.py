"""Stage `catalogue@<survey>`: download (or simulate) the survey's vote table."""
from __future__ import annotations

from pipeline import paths
from pipeline.params import Params, Survey
from pipeline.surveys import source_for
from pipeline.surveys.base import write_source_info
from stages.common import survey_stage


def run(name: str, survey: Survey, params: Params) -> None:
    out = paths.catalogue_dir(name)
    out.mkdir(parents=True, exist_ok=True)
    source = source_for(name, params)
    catalogue = source.fetch_catalogue(out)
    write_source_info(out, source)  # the select stage reads the id column here
    print(f"{name}: catalogue of {len(catalogue)} galaxies in {out}")


def main(argv: list[str] | None = None) -> None:
    survey_stage(__doc__, run, argv)


if __name__ == "__main__":
    main()
