"""The concurrent file fetcher behind every source's ``fetch_images`` (issue 3).

Each file is fetched (with the client's retries and rate limit), checked, written under a
temporary name and renamed into place, so a file under its final name is always complete: a
rerun skips it without a request.  Temporary files of an interrupted run are removed first.
Every file gets one manifest row: ``ok`` (fetched now, or already complete) or ``failed`` with
the reason.

Which failures are one file's and which stop the fetch (issue 8): whatever the download of one
file raises that is an :class:`Exception` of the download library or of the HTTP stack
(``FILE_FAILURES``; the HTTP client turns every requests/urllib3/socket error into a
:class:`DownloadError`) is that file's failure, a manifest row with a one-line reason.  What is
not one file's business stops the fetch: an :class:`InputError` that is not a ``DownloadError``
(an archive naming files outside its folder), an ``OSError`` of the local disk (a full disk
fails every later file too), and bugs (``TypeError``, ``RuntimeError`` ...), which a manifest
row would hide.  Too many failed files stop the stage later (``manifest.check_failures``).

Ctrl-C (issue 8) cancels the queued files, aborts the requests in flight
(``watchdog.cancel_all``), waits a moment for the workers to notice and raises
:class:`Interrupted` carrying the manifest of the files completed.  No temporary file stays:
``write_atomic`` removes its own whatever happens, and a worker still busy after Ctrl-C writes
nothing more.
"""
from __future__ import annotations

import http.client
import os
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd
import requests
import urllib3.exceptions

from pipeline.download import watchdog
from pipeline.download.errors import Cancelled, DownloadError, Interrupted, Retryable
from pipeline.download.http import PARTIAL_MARKER, partial_name
from pipeline.download.manifest import MANIFEST_COLUMNS
from pipeline.download.validate import BadContent
from pipeline.progress import progress

ALREADY_COMPLETE = "already complete"
#: Failures that concern one file only (see the module's docstring); anything else stops the
#: fetch.  The HTTP stack's own classes are here in case one escapes the client's translation.
FILE_FAILURES = (DownloadError, BadContent, Retryable, requests.RequestException,
                 urllib3.exceptions.HTTPError, http.client.HTTPException)
#: Seconds Ctrl-C waits for the requests in flight to notice they were aborted.
CANCEL_GRACE_S = 2.0

Row = tuple[str, str, str, str]


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
    """Fetch every job not already complete, ``concurrency`` at a time; return the manifest.

    On Ctrl-C raises :class:`Interrupted` with the manifest of the files completed so far.
    """
    jobs = list(jobs)
    rows: dict[str, Row] = {job.id: (job.id, "ok", ALREADY_COMPLETE, job.source)
                            for job in jobs if job.dest.exists()}
    todo = [job for job in jobs if job.id not in rows]
    failed = 0
    stop = threading.Event()  # set once Ctrl-C's grace is over: a late worker writes nothing
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="fetch")
    pending: set[Future] = set()
    try:
        with progress(total=len(todo), desc=desc, unit="file", dynamic_ncols=True) as bar:
            pending = {pool.submit(_fetch_one, job, stop) for job in todo}
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    row = future.result()
                    rows[row[0]] = row
                    failed += row[1] == "failed"
                    bar.update()
                bar.set_postfix(failed=failed, refresh=False)
    except KeyboardInterrupt:
        _wind_down(pool, pending, rows, stop)
        manifest = _manifest(jobs, rows, completed_only=True)
        raise Interrupted(f"stopped by Ctrl-C with {len(manifest)} of {len(jobs)} files done, "
                          f"the others not fetched", manifest) from None
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return _manifest(jobs, rows)


def _wind_down(pool: ThreadPoolExecutor, pending: set[Future], rows: dict[str, Row],
               stop: threading.Event) -> None:
    """After Ctrl-C: drop the queued files, abort the requests in flight and keep the rows of
    the files that completed meanwhile (a file written, or failed for good).  A worker still
    busy after that (a connect that only its timeout ends) is told to write nothing: the stage
    may exit under it, which must not happen in the middle of a write."""
    pool.shutdown(wait=False, cancel_futures=True)
    watchdog.cancel_all()
    try:
        done, _ = wait(pending, timeout=CANCEL_GRACE_S)
        for future in done:
            if not future.cancelled() and future.exception() is None:
                row = future.result()
                rows[row[0]] = row
    finally:
        stop.set()
        watchdog.reset_cancel()  # requests may start again (this process may go on)


def _manifest(jobs: list[FetchJob], rows: dict[str, Row], completed_only: bool = False) -> pd.DataFrame:
    return pd.DataFrame([rows[job.id] for job in jobs if not completed_only or job.id in rows],
                        columns=list(MANIFEST_COLUMNS))


def _fetch_one(job: FetchJob, stop: threading.Event) -> Row:
    try:
        data = job.fetch()
    except FILE_FAILURES as exc:
        return job.id, "failed", _reason(exc), job.source
    if stop.is_set():
        raise Cancelled("cancelled")
    write_atomic(job.dest, data)  # an OSError here is the local disk's: it stops the fetch
    return job.id, "ok", "", job.source


def _reason(exc: BaseException) -> str:
    """One line: the library's own reason, or the class and message of an HTTP stack exception."""
    if isinstance(exc, DownloadError):
        reason = exc.reason
    elif isinstance(exc, (BadContent, Retryable)):
        reason = str(exc)
    else:
        reason = f"{type(exc).__name__}: {exc}"
    return " ".join(reason.split())[:300]
