"""Stage `select@<survey>`: vote-fraction thresholds -> labelled sample (paper Table 1)."""
from __future__ import annotations

import pandas as pd

from pipeline import paths
from pipeline.params import Params, Survey
from pipeline.selection import select
from pipeline.surveys import source_for
from pipeline.surveys.base import CATALOGUE_FILE
from stages.common import survey_stage, write_json


def run(name: str, survey: Survey, params: Params) -> None:
    source = source_for(name, params)
    catalogue = pd.read_parquet(paths.catalogue_dir(name) / CATALOGUE_FILE)
    result = select(catalogue, survey.selection, list(survey.classes), id_column=source.id_column, survey=name)
    out = paths.selected_file(name)
    out.parent.mkdir(parents=True, exist_ok=True)
    result.selected.to_parquet(out, index=False)
    write_json(paths.select_metrics(name), {
        "counts": result.counts,
        "n_selected": len(result.selected),
        "n_catalogue": result.n_catalogue,
        "dropped": {"filtered_out": result.n_filtered_out, "no_class": result.n_no_class,
                    "multiple_classes": result.n_multiple_classes},
    })
    print(f"{name}: selected {len(result.selected)} of {result.n_catalogue}: {result.counts}")


def main(argv: list[str] | None = None) -> None:
    survey_stage(__doc__, run, argv)


if __name__ == "__main__":
    main()
