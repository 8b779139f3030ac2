"""A requests client with the project's User-Agent, a per-host rate limit and retries (issue 3),
a deadline per attempt and a size cap per response (issue 8).

One client serves many threads: each thread has its own ``requests.Session`` (sessions are not
thread-safe) while the rate limiter is shared, so the limit holds for the whole process.

Every body is streamed in small reads, under the attempt's :class:`~pipeline.download.watchdog.
Deadline`, counting decoded bytes: a body above ``max_bytes`` (or announced above it) is refused
without being read whole, a compressed bomb included.  Whatever requests, urllib3, http.client
or the socket raise for one request becomes :class:`Retryable` (timeouts, resets, bodies cut
short, the deadline) or :class:`DownloadError` (redirect loops, undecodable content encodings,
bad URLs, TLS certificate errors, anything unknown) with a one-line reason: nothing escapes as
a traceback, and nothing cut short is taken for a whole body.

A reply saying the server's rate budget is spent (``X-RateLimit-Remaining: 0`` and
``X-RateLimit-Reset``, as Zenodo sends) holds every request to that host until the reset
(issue 9), as a 429's Retry-After does (``retry.py``).
"""
from __future__ import annotations

import email.utils
import http.client
import os
import random
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, TypeVar

import requests
import urllib3.exceptions

from pipeline.download.errors import Cancelled, DownloadError, Retryable
from pipeline.download.ratelimit import RateLimiter, host_of
from pipeline.download.retry import with_retries
from pipeline.download.settings import HttpCfg
from pipeline.download.validate import BadContent, looks_like_html
from pipeline.download.watchdog import Deadline, WatchedAdapter
from pipeline.progress import progress

T = TypeVar("T")

#: Servers see who asks (SkyServer and Zenodo ask scripted clients to identify themselves).
USER_AGENT = (f"galaxy-contrastive (reproduction of Wei et al. 2022, DVC pipeline) "
              f"python-requests/{requests.__version__}")
#: Marks files being written; a leftover one is the trace of an interrupted run.
PARTIAL_MARKER = ".partial-"
#: Bytes per read: small, so the size cap is checked often and a bomb inflates little at a time.
CHUNK_BYTES = 64 << 10
#: How much of an error page is read, to tell an HTML page in the reason.
ERROR_HEAD_BYTES = 512
#: Statuses worth another attempt besides 5xx: request timeout and too many requests.
RETRY_STATUSES = {408, 429}

#: requests/urllib3/http.client/socket exceptions -> (retry?, what the reason says), first match
#: wins (subclasses before their bases).  Another attempt cannot fix a redirect loop, a bad URL,
#: a content encoding that does not decode or a certificate; it may fix the rest.
FAILURES: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], bool, str], ...] = (
    (requests.TooManyRedirects, False, "redirect loop or too many redirects"),
    ((requests.exceptions.ContentDecodingError, urllib3.exceptions.DecodeError), False,
     "the body does not decode as its Content-Encoding says"),
    ((requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema,
      urllib3.exceptions.LocationValueError), False, "bad URL"),
    ((requests.exceptions.InvalidHeader, http.client.LineTooLong), False, "malformed response headers"),
    ((requests.exceptions.SSLError, urllib3.exceptions.SSLError), False, "TLS error"),
    ((requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError), True, "timed out"),
    ((requests.exceptions.ChunkedEncodingError, urllib3.exceptions.ProtocolError, http.client.IncompleteRead),
     True, "body cut short"),
    ((requests.ConnectionError, urllib3.exceptions.HTTPError, http.client.HTTPException, OSError), True,
     "connection failed"),
)


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


#: An X-RateLimit-Reset above this is an epoch time (Zenodo, GitHub), below it seconds from now.
EPOCH_RESET_FROM = 1e9


def rate_limit_wait(headers: Mapping[str, str]) -> float | None:
    """Seconds until the server's rate-limit window resets when its budget is spent
    (``X-RateLimit-Remaining: 0`` with ``X-RateLimit-Reset``); None while requests remain or
    when the headers are absent or malformed."""
    remaining, reset = headers.get("X-RateLimit-Remaining", ""), headers.get("X-RateLimit-Reset", "")
    try:
        if int(remaining) > 0:
            return None
        value = float(reset)
    except ValueError:
        return None
    return max(0.0, value - time.time()) if value > EPOCH_RESET_FROM else max(0.0, value)


def check_status(response: requests.Response, head: bytes) -> None:
    """Raise :class:`Retryable` for 429/408/5xx, :class:`DownloadError` for other non-2xx;
    ``head`` is the start of the body (to say when it is an HTML page)."""
    code = response.status_code
    if 200 <= code < 300:
        return
    page = " (an HTML error page)" if looks_like_html(head) else ""
    reason = f"HTTP {code} {response.reason}{page}"
    if code in RETRY_STATUSES or code >= 500:
        raise Retryable(reason, retry_after_seconds(response.headers.get("Retry-After")))
    raise DownloadError(response.url, reason)


def failure(exc: BaseException, what: str) -> Retryable | DownloadError:
    """What one request's exception means: another attempt, or a failure with its reason."""
    for classes, retry, kind in FAILURES:
        if isinstance(exc, classes):
            break
    else:
        retry, kind = False, "unexpected failure"
    reason = f"{kind} ({type(exc).__name__}: {_short(exc)})"
    return Retryable(reason) if retry else DownloadError(what, reason)


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
        """This thread's session (kept alive between requests to reuse connections), its sockets
        watched by the deadline of each attempt."""
        if not hasattr(self._local, "session"):
            session = requests.Session()
            session.headers["User-Agent"] = USER_AGENT
            for prefix in ("http://", "https://"):
                session.mount(prefix, WatchedAdapter())
            self._local.session = session
        return self._local.session

    def retrying(self, url: str, attempt: Callable[[], Any], what: str) -> Any:
        return with_retries(attempt, self.cfg, self.limiter, host_of(url), what, self._rng)

    def get(self, url: str, *, params: Mapping[str, Any] | None = None,
            headers: Mapping[str, str] | None = None, check: Callable[[bytes], None] | None = None,
            what: str | None = None) -> requests.Response:
        """GET ``url`` with retries; the body is in ``.content``.  ``check(body)`` may reject it
        (:class:`BadContent`), which counts as a failed attempt."""
        what = what or url

        def attempt() -> requests.Response:
            response = self.fetch_once(url, params=params, headers=headers, what=what)
            if check is not None:
                try:
                    check(response.content)
                except BadContent as exc:
                    raise Retryable(str(exc)) from None
            return response

        return self.retrying(url, attempt, what)

    def fetch_once(self, url: str, *, params: Mapping[str, Any] | None = None,
                   headers: Mapping[str, str] | None = None, what: str | None = None) -> requests.Response:
        """One attempt (no retries, no rate limit: the caller's ``retrying`` does those): the
        response with its whole body, at most ``max_bytes``, in ``.content``."""
        def consume(response: requests.Response, chunks: Iterator[bytes]) -> requests.Response:
            response._content = b"".join(chunks)  # what .content returns from now on
            response._content_consumed = True
            return response

        return self._attempt(url, params, headers, what or url, consume)

    def download(self, url: str, dest: Path, what: str | None = None,
                 check: Callable[[Path], None] | None = None) -> Path:
        """Stream ``url`` to ``dest`` (temporary name, then rename), with a progress bar.

        For large files (catalogues): nothing is held in memory; a body cut short or an HTML
        page in place of the file is retried, and so is one that ``check(path)`` rejects
        (:class:`BadContent`: a close-delimited body cut short shows only in its content).
        However it ends (an error, Ctrl-C), no temporary file is left.
        """
        what = what or dest.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = partial_name(dest)

        def consume(response: requests.Response, chunks: Iterator[bytes]) -> None:
            total = int(response.headers.get("Content-Length", 0)) or None
            head = b""
            with open(partial, "wb") as out, \
                    progress(total=total, unit="B", unit_scale=True, desc=what) as bar:
                for chunk in chunks:
                    if len(head) < ERROR_HEAD_BYTES:
                        head += chunk[:ERROR_HEAD_BYTES]
                        if looks_like_html(head):
                            raise Retryable("an HTML page instead of the file")
                    out.write(chunk)
                    bar.update(len(chunk))

        def attempt() -> None:
            self._attempt(url, None, None, what, consume)
            if check is not None:
                try:
                    check(partial)
                except BadContent as exc:
                    raise Retryable(str(exc)) from None

        try:
            self.retrying(url, attempt, what)
            os.replace(partial, dest)
        except KeyboardInterrupt as exc:
            raise Cancelled(str(exc) or f"{what}: download stopped, nothing of it kept") from None
        finally:
            partial.unlink(missing_ok=True)
        return dest

    def _attempt(self, url: str, params: Mapping[str, Any] | None, headers: Mapping[str, str] | None,
                 what: str, consume: Callable[[requests.Response, Iterator[bytes]], T]) -> T:
        """One GET under the deadline: status checked, then ``consume(response, chunks)`` with
        the body's decoded chunks (the size cap enforced as they come)."""
        cfg = self.cfg
        with Deadline(cfg.deadline_s) as deadline:
            received = [0]

            def stopped() -> BaseException | None:
                """Why the watchdog ended this attempt, if it did."""
                if deadline.cancelled:
                    return Cancelled("cancelled")
                if deadline.expired:
                    return Retryable(f"deadline of {cfg.deadline_s:g} s exceeded ({received[0]} bytes received)")
                return None

            def fail(exc: BaseException) -> BaseException:
                return stopped() or failure(exc, what)

            try:
                response = self.session().get(url, params=params, headers=headers, stream=True,
                                              timeout=(cfg.connect_timeout_s, cfg.read_timeout_s))
            except Exception as exc:
                raise fail(exc) from None
            with response:
                spent = rate_limit_wait(response.headers)
                if spent is not None:
                    # The budget is spent: a request before the reset would only earn a 429. A
                    # reset further off than backoff_max_s is not waited for in full, so the
                    # next request's 429 says how long the server wants (and fails if too long).
                    self.limiter.hold(host_of(url), min(spent, cfg.backoff_max_s))
                chunks = self._chunks(response, received, fail, what)
                if not 200 <= response.status_code < 300:
                    check_status(response, next(chunks, b"")[:ERROR_HEAD_BYTES])
                announced = response.headers.get("Content-Length", "")
                if announced.isdigit() and int(announced) > cfg.max_bytes:
                    raise DownloadError(what, f"larger than max_bytes = {cfg.max_bytes} "
                                              f"(Content-Length {announced})")
                result = consume(response, chunks)
            late = stopped()  # a close-delimited body cut off by the watchdog ends as if complete
            if late is not None:
                raise late
            return result

    def _chunks(self, response: requests.Response, received: list[int],
                fail: Callable[[BaseException], BaseException], what: str) -> Iterator[bytes]:
        """The body, decoded, as it arrives (at most ``CHUNK_BYTES`` per read, which also bounds
        what one read inflates); stops past ``max_bytes``."""
        cap = self.cfg.max_bytes
        while True:
            try:
                chunk = response.raw.read1(CHUNK_BYTES, decode_content=True)
            except Exception as exc:
                raise fail(exc) from None
            if not chunk:
                return
            received[0] += len(chunk)
            if received[0] > cap:
                raise DownloadError(what, f"larger than max_bytes = {cap} (stopped after {received[0]} bytes)")
            yield chunk


def _short(exc: BaseException) -> str:
    """The innermost reason of a requests/urllib3 exception chain, on one line."""
    text = str(exc.args[0] if exc.args else exc)
    return text.split("(Caused by ")[-1].rstrip(")").replace("\n", " ")[:200]
