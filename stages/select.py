"""Stage `select@<survey>`: vote-fraction thresholds -> labelled sample (paper Table 1)."""
from __future__ import annotations

import pandas as pd

from pipeline import paths
from pipeline.params import Params, Survey
from pipeline.selection import describe_out_of_range, select
from pipeline.surveys.base import CATALOGUE_FILE, read_source_info
from stages.common import survey_stage, write_json


def run(name: str, survey: Survey, params: Params) -> None:
    id_column = read_source_info(paths.catalogue_dir(name))["id_column"]  # as the catalogue stage wrote it
    catalogue = pd.read_parquet(paths.catalogue_dir(name) / CATALOGUE_FILE)
    result = select(catalogue, survey.selection, list(survey.classes), id_column=id_column, survey=name)
    out = paths.selected_file(name)
    out.parent.mkdir(parents=True, exist_ok=True)
    result.selected.to_parquet(out, index=False)
    write_json(paths.select_metrics(name), {
        "counts": result.counts,
        "n_selected": len(result.selected),
        "n_catalogue": result.n_catalogue,
        "dropped": {"out_of_range": result.n_out_of_range, "filtered_out": result.n_filtered_out,
                    "no_class": result.n_no_class, "multiple_classes": result.n_multiple_classes},
        "out_of_range_examples": result.out_of_range_examples,
        "nan_by_column": result.nan_by_column,
    })
    print(f"{name}: selected {len(result.selected)} of {result.n_catalogue}: {result.counts}")
    if result.n_out_of_range:
        print(f"{name}: dropped {result.n_out_of_range} galaxies with a vote fraction outside [0, 1]: "
              f"{describe_out_of_range(result.out_of_range_by_column, result.out_of_range_examples)}")
    missing = {col: n for col, n in result.nan_by_column.items() if n}
    if missing:
        print(f"{name}: missing values (NaN, fail their rule or filter) by column: "
              + ", ".join(f"{col} {n}" for col, n in missing.items()))


def main(argv: list[str] | None = None) -> None:
    survey_stage(__doc__, run, argv)


if __name__ == "__main__":
    main()
