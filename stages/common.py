"""What every stage does first: parse its arguments, load params, set up logging."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any, Callable

from pipeline.errors import InputError
from pipeline.params import Params, Survey, load_params, survey_params


def stage_main(description: str, body: Callable[..., None], names: tuple[str, ...],
               argv: list[str] | None = None) -> None:
    """Run ``body(*values, params)`` with the positional arguments ``names`` from the command line.

    Configuration and input errors end the stage with a one-line message and exit code 2
    rather than a traceback: they are the user's to fix, not bugs.
    """
    parser = argparse.ArgumentParser(description=description)
    for name in names:
        parser.add_argument(name, help="a survey name, a key of `survey:` in params.yaml")
    parser.add_argument("--params", default="params.yaml", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        body(*(getattr(args, n) for n in names), load_params(args.params))
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


def survey_stage(description: str, body: Callable[[str, Survey, Params], None],
                 argv: list[str] | None = None) -> None:
    """A per-survey stage: ``body(name, survey_block, params)``."""
    stage_main(description, lambda name, params: body(name, survey_params(params, name), params),
               ("survey",), argv)


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
