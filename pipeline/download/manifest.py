"""The images manifest: one row per selected galaxy, and the failure rule of the stage.

A few failed files are normal (cutouts outside the footprint, a server hiccup that outlasted the
retries): the stage goes on and the prepare stage skips them.  It fails with a summary only when
more than ``max_failed_fraction`` of the files failed (issue 3).
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd

from pipeline.download.errors import TooManyFailures

MANIFEST_COLUMNS = ("id", "status", "reason", "source")
SHOWN_REASONS = 5


def reason_kind(reason: str) -> str:
    """The kind of a failure reason, for the summary: its text before any detail."""
    return reason.split(" (")[0].split(": ")[0]


def failure_summary(manifest: pd.DataFrame) -> str:
    """``"12 HTTP 404 Not Found, 3 timed out"``: failure kinds, most frequent first."""
    kinds = Counter(reason_kind(r) for r in manifest.loc[manifest["status"] == "failed", "reason"])
    shown = ", ".join(f"{n} {kind}" for kind, n in kinds.most_common(SHOWN_REASONS))
    more = len(kinds) - SHOWN_REASONS
    return shown + (f" and {more} other kinds" if more > 0 else "")


def check_failures(manifest: pd.DataFrame, max_fraction: float, param: str, manifest_path: Path) -> None:
    """Write the manifest to ``manifest_path``; raise :class:`TooManyFailures` if too many failed.

    The manifest is written before raising so the user can read which files failed and why.
    """
    manifest.to_csv(manifest_path, index=False)
    n_failed = int((manifest["status"] == "failed").sum())
    fraction = n_failed / max(len(manifest), 1)
    if fraction > max_fraction:
        raise TooManyFailures(
            f"{n_failed} of {len(manifest)} files failed ({fraction:.1%} > {param} = {max_fraction:.1%}): "
            f"{failure_summary(manifest)}; see {manifest_path}")
