"""`galaxy-contrastive`: use a trained model on new galaxies, outside the pipeline.

Subcommands (one module each, each exposing ``register(subparsers)``): ``embed`` cutouts or a
catalogue with a model file, then ``similar`` (galaxies like a given one), ``classify`` (kNN
labels from a labelled survey, as the `evaluate` stage computes them) and ``oddities`` (the
galaxies least like any other: the paper's closing aim of finding peculiar galaxies).  Nothing here
reads params.yaml: a model file carries what using it needs (pipeline/model_file.py).
"""
from __future__ import annotations

import argparse
import importlib
import sys

from pipeline.errors import InputError
from pipeline.model_file import project_version

#: In the order `--help` lists them.
SUBCOMMANDS = ("embed", "similar", "classify", "oddities")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="galaxy-contrastive", description=__doc__.split("\n\n")[0],
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    top.add_argument("--version", action="version", version=f"%(prog)s {project_version()}")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"pipeline.cli.{name}").register(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status (2 for the user's errors)."""
    args = parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        # The user's to fix (a bad file, row, id or option): one line, no traceback.
        print(f"galaxy-contrastive {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"galaxy-contrastive {args.command}: interrupted", file=sys.stderr)
        return 130
