"""Stage `card@<survey>`: the model card (Markdown) beside the trained model file."""
from __future__ import annotations

import json
from dataclasses import asdict

from pipeline import paths
from pipeline.model_card import render_card
from pipeline.model_file import read_info
from pipeline.params import Params, Survey
from stages.common import survey_stage


def run(name: str, survey: Survey, params: Params) -> None:
    model = paths.model_file(name)
    text = render_card(read_info(model), str(model), asdict(survey.selection),
                       json.loads(paths.select_metrics(name).read_text()),
                       json.loads(paths.evaluate_metrics(name).read_text()), params.evaluate.k)
    out = paths.model_card(name)
    out.write_text(text)
    print(f"{name}: model card {out}")


def main(argv: list[str] | None = None) -> None:
    survey_stage(__doc__, run, argv)


if __name__ == "__main__":
    main()
