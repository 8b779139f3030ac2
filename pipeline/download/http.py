"""A requests client with the project's User-Agent, a per-host rate limit and retries (issue 3).

One client serves many threads: each thread has its own ``requests.Session`` (sessions are not
thread-safe) while the rate limiter is shared, so the limit holds for the whole process.
"""
from __future__ import annotations

import email.utils
import os
import random
import threading
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import requests

from pipeline.download.errors import DownloadError, Retryable
from pipeline.download.ratelimit import RateLimiter, host_of
from pipeline.download.retry import with_retries
from pipeline.download.settings import HttpCfg
from pipeline.download.validate import BadContent, looks_like_html
from pipeline.progress import progress

#: Servers see who asks (SkyServer and Zenodo ask scripted clients to identify themselves).
USER_AGENT = (f"galaxy-contrastive (reproduction of Wei et al. 2022, DVC pipeline) "
              f"python-requests/{requests.__version__}")
#: Marks files being written; a leftover one is the trace of an interrupted run.
PARTIAL_MARKER = ".partial-"
CHUNK_BYTES = 1 << 20
#: Statuses worth another attempt besides 5xx: request timeout and too many requests.
RETRY_STATUSES = {408, 429}


def retry_after_seconds(value: str | None) -> float | None:
    """The Retry-After header in seconds (delta-seconds or an HTTP date); None when absent or bad."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def check_status(response: requests.Response) -> None:
    """Raise :class:`Retryable` for 429/408/5xx, :class:`DownloadError` for other non-2xx."""
    code = response.status_code
    if 200 <= code < 300:
        return
    page = " (an HTML error page)" if looks_like_html(response.content[:512]) else ""
    reason = f"HTTP {code} {response.reason}{page}"
    if code in RETRY_STATUSES or code >= 500:
        raise Retryable(reason, retry_after_seconds(response.headers.get("Retry-After")))
    raise DownloadError(response.url, reason)


def partial_name(final: Path) -> Path:
    """The temporary name ``final`` is written under before the atomic rename."""
    return final.with_name(f"{final.name}{PARTIAL_MARKER}{os.getpid()}-{threading.get_ident()}")


class HttpClient:
    """GET with the limiter, the retries and the timeouts of one :class:`HttpCfg`."""

    def __init__(self, cfg: HttpCfg, limiter: RateLimiter | None = None):
        self.cfg = cfg
        self.limiter = limiter or RateLimiter(cfg.rate_per_s, cfg.burst)
        self._local = threading.local()
        self._rng = random.Random()

    def session(self) -> requests.Session:
        """This thread's session (kept alive between requests to reuse connections)."""
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
            self._local.session.headers["User-Agent"] = USER_AGENT
        return self._local.session

    def retrying(self, url: str, attempt: Callable[[], Any], what: str) -> Any:
        return with_retries(attempt, self.cfg, self.limiter, host_of(url), what, self._rng)

    def get(self, url: str, *, params: Mapping[str, Any] | None = None,
            headers: Mapping[str, str] | None = None, check: Callable[[bytes], None] | None = None,
            what: str | None = None) -> requests.Response:
        """GET ``url`` with retries; ``check(body)`` may reject the body (:class:`BadContent`),
        which counts as a failed attempt."""
        def attempt() -> requests.Response:
            response = self._send(url, params, headers, stream=False)
            if check is not None:
                try:
                    check(response.content)
                except BadContent as exc:
                    raise Retryable(str(exc)) from None
            return response

        return self.retrying(url, attempt, what or url)

    def download(self, url: str, dest: Path, what: str | None = None) -> Path:
        """Stream ``url`` to ``dest`` (temporary name, then rename), with a progress bar.

        For large files (catalogues): nothing is held in memory; a body cut short or an HTML
        page in place of the file is retried.
        """
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = partial_name(dest)

        def attempt() -> Path:
            response = self._send(url, None, None, stream=True)
            total = int(response.headers.get("Content-Length", 0)) or None
            try:
                with response, open(partial, "wb") as out, \
                        progress(total=total, unit="B", unit_scale=True, desc=what or dest.name) as bar:
                    for i, chunk in enumerate(response.iter_content(CHUNK_BYTES)):
                        if i == 0 and looks_like_html(chunk):
                            raise Retryable("an HTML page instead of the file")
                        out.write(chunk)
                        bar.update(len(chunk))
            except (requests.ConnectionError, requests.Timeout,
                    requests.exceptions.ChunkedEncodingError) as exc:
                partial.unlink(missing_ok=True)
                raise Retryable(f"body cut short ({_short(exc)})") from None
            except Retryable:
                partial.unlink(missing_ok=True)
                raise
            os.replace(partial, dest)
            return dest

        return self.retrying(url, attempt, what or url)

    def _send(self, url: str, params: Mapping[str, Any] | None, headers: Mapping[str, str] | None,
              stream: bool) -> requests.Response:
        try:
            response = self.session().get(url, params=params, headers=headers, stream=stream,
                                          timeout=(self.cfg.connect_timeout_s, self.cfg.read_timeout_s))
        except requests.Timeout:
            raise Retryable("timed out") from None
        except requests.exceptions.ChunkedEncodingError as exc:
            raise Retryable(f"body cut short ({_short(exc)})") from None
        except requests.ConnectionError as exc:
            raise Retryable(f"connection failed ({_short(exc)})") from None
        check_status(response)
        return response


def _short(exc: Exception) -> str:
    """The innermost reason of a requests/urllib3 exception chain, on one line."""
    text = str(exc.args[0] if exc.args else exc)
    return text.split("(Caused by ")[-1].rstrip(")").replace("\n", " ")[:200]
