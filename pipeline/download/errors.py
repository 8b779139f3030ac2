"""Errors of the download library.

What the user must act on (a server that keeps failing, a bad response format, too many failed
files, an unsafe archive) is an :class:`~pipeline.errors.InputError`: the stage prints one line.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.errors import InputError

if TYPE_CHECKING:
    import pandas as pd


class DownloadError(InputError):
    """A request failed for good (after the retries the params allow) or answered nonsense.

    ``reason`` is the message without ``what`` (the URL or file), for the manifest.
    """

    def __init__(self, what: str, reason: str):
        super().__init__(f"{what}: {reason}")
        self.what = what
        self.reason = reason


class Retryable(Exception):
    """One attempt failed in a way another attempt may fix (5xx, 429, timeout, reset, bad body).

    ``retry_after`` is the server's Retry-After in seconds, when it sent one.
    """

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.retry_after = retry_after


class UnsafePath(InputError):
    """A file name from remote data or the user would land outside its folder."""


class TooManyFailures(InputError):
    """More files failed than the params fraction allows."""


class Cancelled(KeyboardInterrupt):
    """A request or a wait stopped because the user pressed Ctrl-C (see ``watchdog.cancel_all``).

    A :class:`KeyboardInterrupt`, so no ``except Exception`` takes it for one file's failure.
    """


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a fetch: ``manifest`` holds the rows of the files completed so far (the
    columns of ``fetch_all``'s manifest), so the caller can write it before the stage ends."""

    def __init__(self, message: str, manifest: pd.DataFrame):
        super().__init__(message)
        self.manifest = manifest
