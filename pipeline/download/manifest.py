"""The images manifest: one row per selected galaxy, and the failure rule of the stage.

A few failed files are normal (cutouts outside the footprint, a server hiccup that outlasted the
retries): the stage goes on and the prepare stage skips them.  It fails with a summary only when
more than ``max_failed_fraction`` of the files failed (issue 3).  When most failed files are
images of another size than the params say, the params are what is wrong, not the files: the
error then names the size key and the size found (issue 7).

Each ``ok`` row carries the file's size and SHA-256: a rerun compares the files on disk with
them to tell, without decoding, that a file is still the one that passed the checks (issue 8).
"""
from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.config import ConfigError
from pipeline.download.errors import TooManyFailures
from pipeline.download.validate import found_size

MANIFEST_COLUMNS = ("id", "status", "reason", "source")
#: Columns of ``ok`` rows after :data:`MANIFEST_COLUMNS`: the file's size in bytes and SHA-256.
CHECKSUM_COLUMNS = ("bytes", "sha256")
SHOWN_REASONS = 5

Checksum = tuple[int, str]  # (size in bytes, SHA-256 hex digest)


def checksum(data: bytes) -> Checksum:
    return len(data), hashlib.sha256(data).hexdigest()


def previous_checksums(manifest_path: Path) -> dict[str, Checksum]:
    """The checksum of each ``ok`` file of the manifest a previous run left, by id; empty when
    there is none, or it predates the checksums or cannot be read (every file is then checked)."""
    try:
        # As text, exactly as written: an id such as "007" or "NA" must stay that id.
        table = pd.read_csv(manifest_path, dtype=str, keep_default_na=False)
    except (OSError, ValueError):
        return {}
    if not {"id", "status", *CHECKSUM_COLUMNS} <= set(table.columns):
        return {}
    ok = table[(table["status"] == "ok") & table["bytes"].str.isdigit()]
    return {i: (int(n), h) for i, n, h in zip(ok["id"], ok["bytes"], ok["sha256"])}


def reason_kind(reason: str) -> str:
    """The kind of a failure reason, for the summary: its text before any detail."""
    return reason.split(" (")[0].split(": ")[0]


def failure_summary(manifest: pd.DataFrame) -> str:
    """``"12 HTTP 404 Not Found, 3 timed out"``: failure kinds, most frequent first."""
    kinds = Counter(reason_kind(r) for r in manifest.loc[manifest["status"] == "failed", "reason"])
    shown = ", ".join(f"{n} {kind}" for kind, n in kinds.most_common(SHOWN_REASONS))
    more = len(kinds) - SHOWN_REASONS
    return shown + (f" and {more} other kinds" if more > 0 else "")


@dataclass(frozen=True)
class ExpectedSize:
    """The side every image must have, the params key that sets it, and where the images are."""

    size: int
    key: str  # e.g. "survey.my_survey.image.native_size"
    where: str  # completes "N images ... are WxH", e.g. "in data/cutouts"


def check_failures(manifest: pd.DataFrame, max_fraction: float, param: str, manifest_path: Path,
                   expected: ExpectedSize | None = None) -> None:
    """Write the manifest to ``manifest_path``; raise :class:`TooManyFailures` if too many failed.

    With ``expected``, too many failures that are mostly images of another size raise a
    :class:`ConfigError` naming ``expected.key`` instead (see :func:`check_sizes`).  The manifest
    is written before raising so the user can read which files failed and why.
    """
    manifest.to_csv(manifest_path, index=False)
    n_failed = int((manifest["status"] == "failed").sum())
    fraction = n_failed / max(len(manifest), 1)
    if fraction > max_fraction:
        if expected is not None:
            check_sizes(manifest, expected, manifest_path)
        raise TooManyFailures(
            f"{n_failed} of {len(manifest)} files failed ({fraction:.1%} > {param} = {max_fraction:.1%}): "
            f"{failure_summary(manifest)}; see {manifest_path}")


def check_sizes(manifest: pd.DataFrame, expected: ExpectedSize, manifest_path: Path) -> None:
    """Raise :class:`ConfigError` naming ``expected.key`` when at least half the failed files are
    images of another size: the configured size, not the files, is then what to change.

    One square size found: the error says which value to set.  Several: it lists them, since the
    images must first be brought to one size.
    """
    failed = manifest.loc[manifest["status"] == "failed", "reason"]
    found = Counter(size for size in map(found_size, failed) if size is not None)
    n_wrong = sum(found.values())
    if n_wrong == 0 or 2 * n_wrong < len(failed):
        return
    size, key = expected.size, expected.key
    head = f"{n_wrong} of {len(manifest)} images {expected.where}"
    (width, height), _ = found.most_common(1)[0]
    if len(found) == 1 and width == height:
        message = f"{head} are {width}x{width} but {key} is {size}: set {key}: {width}"
    else:
        sizes = ", ".join(f"{w}x{h} ({n})" for (w, h), n in found.most_common(SHOWN_REASONS))
        sizes += f" and {len(found) - SHOWN_REASONS} other sizes" if len(found) > SHOWN_REASONS else ""
        message = (f"{head} are not {size}x{size} as {key} says but {sizes}: bring every image to one "
                   f"square size and set {key} to its side")
    n_ok = int((manifest["status"] == "ok").sum())
    if n_ok:  # a folder of mixed sizes: changing the key alone would fail these instead
        message += f"; {n_ok} are {size}x{size}: every image must have the same size"
    raise ConfigError(f"{message} (see {manifest_path})")
