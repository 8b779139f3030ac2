"""What every stage does first: parse its arguments, load params, set up logging."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any, Callable

from pipeline import params_reads
from pipeline.errors import InputError
from pipeline.params import Params, Survey, load_params, survey_params


def stage_main(description: str, body: Callable[..., None], names: tuple[str, ...],
               argv: list[str] | None = None) -> None:
    """Run ``body(*values, params)`` with the positional arguments ``names`` from the command line.

    Configuration and input errors end the stage with a one-line message and exit code 2
    rather than a traceback: they are the user's to fix, not bugs.  Ctrl-C ends it with one
    line and exit code 130 (the download library has removed its partial files by then).
    """
    parser = argparse.ArgumentParser(description=description)
    for name in names:
        parser.add_argument(name, help="a survey name, a key of `survey:` in params.yaml")
    parser.add_argument("--params", default="params.yaml", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        params = load_params(args.params)
        # e.g. "train@sim_gz2", "cross@sim_gz2-sim_sdss": the stage's name in dvc.yaml
        stage = Path(sys.argv[0]).stem + "".join(f"{'@' if i == 0 else '-'}{getattr(args, n)}"
                                                 for i, n in enumerate(names))
        params_reads.start(params, stage)
        body(*(getattr(args, n) for n in names), params)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt as exc:
        print(f"interrupted: {str(exc) or 'stopped by Ctrl-C'}", file=sys.stderr)
        _exit_now(130)


def _exit_now(code: int) -> None:
    """Exit with ``code``, at once even when worker threads are still blocked (a connect that
    only its timeout ends): the interpreter would wait for them before exiting."""
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def survey_stage(description: str, body: Callable[[str, Survey, Params], None],
                 argv: list[str] | None = None) -> None:
    """A per-survey stage: ``body(name, survey_block, params)``."""
    stage_main(description, lambda name, params: body(name, survey_params(params, name), params),
               ("survey",), argv)


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
