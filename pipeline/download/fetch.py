"""The concurrent file fetcher behind every source's ``fetch_images`` (issue 3).

Each file is fetched (with the client's retries and rate limit), checked, written under a
temporary name and renamed into place, so a file under its final name is always complete: a
rerun skips it without a request.  Temporary files of an interrupted run are removed first.
Every file gets one manifest row: ``ok`` (fetched now, or already complete) or ``failed`` with
the reason.
"""
from __future__ import annotations

import os
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd

from pipeline.download.errors import DownloadError
from pipeline.download.http import PARTIAL_MARKER, partial_name
from pipeline.download.manifest import MANIFEST_COLUMNS
from pipeline.download.validate import BadContent
from pipeline.progress import progress

ALREADY_COMPLETE = "already complete"
#: Failures that concern one file only; anything else (an archive that names files outside its
#: folder, a full disk, a bug) stops the fetch.
FILE_FAILURES = (DownloadError, BadContent)


@dataclass(frozen=True)
class FetchJob:
    """One file: ``fetch()`` returns its checked bytes or raises one of ``FILE_FAILURES``."""

    id: str
    dest: Path
    source: str  # URL or archive member, for the manifest
    fetch: Callable[[], bytes]


def remove_partials(folder: Path) -> int:
    """Delete temporary files an interrupted run left in ``folder``; return how many."""
    leftovers = list(folder.glob(f"*{PARTIAL_MARKER}*"))
    for path in leftovers:
        path.unlink(missing_ok=True)
    return len(leftovers)


def write_atomic(dest: Path, data: bytes) -> None:
    partial = partial_name(dest)
    try:
        partial.write_bytes(data)
        os.replace(partial, dest)  # atomic: a kill never leaves a truncated file under its name
    finally:
        partial.unlink(missing_ok=True)


def fetch_all(jobs: Iterable[FetchJob], concurrency: int, desc: str) -> pd.DataFrame:
    """Fetch every job not already complete, ``concurrency`` at a time; return the manifest."""
    jobs = list(jobs)
    rows = {job.id: (job.id, "ok", ALREADY_COMPLETE, job.source) for job in jobs if job.dest.exists()}
    todo = [job for job in jobs if job.id not in rows]
    failed = 0
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="fetch") as pool, \
            progress(total=len(todo), desc=desc, unit="file", dynamic_ncols=True) as bar:
        pending: set[Future] = {pool.submit(_fetch_one, job) for job in todo}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    row = future.result()
                    rows[row[0]] = row
                    failed += row[1] == "failed"
                    bar.update()
                bar.set_postfix(failed=failed, refresh=False)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return pd.DataFrame([rows[job.id] for job in jobs], columns=list(MANIFEST_COLUMNS))


def _fetch_one(job: FetchJob) -> tuple[str, str, str, str]:
    try:
        write_atomic(job.dest, job.fetch())
    except FILE_FAILURES as exc:
        return job.id, "failed", getattr(exc, "reason", str(exc)), job.source
    return job.id, "ok", "", job.source
