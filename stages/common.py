"""What every stage does first: parse the survey name, load params, set up logging."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any, Callable

from pipeline.errors import InputError
from pipeline.params import Params, Survey, load_params, survey_params


def survey_stage(description: str, body: Callable[[str, Survey, Params], None], argv: list[str] | None = None) -> None:
    """Run ``body(name, survey, params)`` for the survey named on the command line.

    Configuration and input errors end the stage with a one-line message and exit code 2
    rather than a traceback: they are the user's to fix, not bugs.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("survey", help="survey name, a key of `survey:` in params.yaml")
    parser.add_argument("--params", default="params.yaml", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        params = load_params(args.params)
        body(args.survey, survey_params(params, args.survey), params)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
