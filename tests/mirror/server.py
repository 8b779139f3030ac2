"""A threaded HTTP server on 127.0.0.1 that serves registered files and handlers.

Static files answer range requests (``bytes=a-b``, ``bytes=a-``, ``bytes=-n``) like an object
store; handlers compute their reply from the query.  Faults queued with :meth:`Mirror.inject`
replace the next replies of a path (optionally only for a given query): see ``faults.py``;
``faults.LOOP_PATH`` always redirects to itself.  Every request is logged with its arrival time,
so tests can tell what was (not) asked again.

:meth:`Mirror.limit_rate` makes paths behave like Zenodo (issue 9): a budget of requests per
fixed window, ``X-RateLimit-Limit/-Remaining/-Reset`` (epoch seconds) on every reply, and a 429
with ``Retry-After`` (the seconds left in the window) once the budget is spent.  By default
nothing is limited.
"""
from __future__ import annotations

import dataclasses
import math
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Mapping
from urllib.parse import parse_qsl, urlsplit

from tests.mirror.faults import FAULTS, LOOP_PATH, redirect
from tests.mirror.replies import Logged, Reply
from tests.mirror.skyserver import QUERY_TOO_LONG


Handler = Callable[[dict[str, str]], Reply]


class Mirror:
    """Serve until :meth:`close`; ``url`` is the base URL, e.g. ``http://127.0.0.1:40123``."""

    def __init__(self, latency_s: float = 0.0, hang_s: float = 2.0, max_query_chars: int | None = None):
        self.latency_s = latency_s  # added before every reply (the benchmark's 50 ms)
        # strict mode (issue 9): a longer query string gets IIS's error page, as SkyServer's
        # default maxQueryStringLength (2,048) does; None accepts any length
        self.max_query_chars = max_query_chars
        self.hang_s = hang_s  # how long the "timeout" fault keeps the client waiting
        self.log: list[Logged] = []
        self._static: dict[str, tuple[bytes, str, bool]] = {}
        self._handlers: dict[str, Handler] = {}
        self._faults: list[tuple[str, dict[str, str], list[str]]] = []
        self._lock = threading.Lock()
        self._budget: tuple[str, int, float] | None = None  # (path prefix, requests, window_s)
        self._window_end = 0.0  # time.monotonic() at which the current window ends
        self._window_used = 0
        self.throttled: list[tuple[float, str]] = []  # (time.monotonic(), path) of each 429 sent
        self._server = _Server(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        # A short poll interval: close() returns at once rather than after half a second.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Mirror:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def serve_bytes(self, path: str, body: bytes, content_type: str = "application/octet-stream",
                    ranges: bool = True) -> None:
        """Serve ``body`` at ``path``; ``ranges=False`` ignores Range headers (answers 200)."""
        self._static[path] = (body, content_type, ranges)

    def serve(self, path: str, handler: Handler) -> None:
        self._handlers[path] = handler

    def inject(self, path: str, *faults: str, match: Mapping[str, str] | None = None) -> None:
        """The next ``len(faults)`` requests of ``path`` (whose query holds ``match``) get these
        faults, in order; later ones are served normally."""
        unknown = [f for f in faults if f not in FAULTS]
        if unknown:
            raise ValueError(f"unknown faults {unknown}; known: {sorted(FAULTS)}")
        with self._lock:
            self._faults.append((path, dict(match or {}), list(faults)))

    def limit_rate(self, prefix: str, requests: int, window_s: float) -> None:
        """Paths starting with ``prefix`` allow ``requests`` requests per ``window_s`` seconds
        (Zenodo: 60 a minute), counted together as one client's, in fixed windows."""
        with self._lock:
            self._budget = (prefix, requests, window_s)
            self._window_end, self._window_used = 0.0, 0

    def requests(self, path: str | None = None) -> list[Logged]:
        with self._lock:
            return [r for r in self.log if path is None or r.path == path]

    def clear_log(self) -> None:
        with self._lock:
            self.log.clear()

    # --- called by the request handler --------------------------------------------------------
    def _record(self, path: str, query: dict[str, str], headers: dict[str, str]) -> str | None:
        """Log the request; return the fault to apply, if one is queued for it."""
        with self._lock:
            self.log.append(Logged(time.monotonic(), path, query, headers))
            for fault_path, match, queue in self._faults:
                if fault_path == path and queue and all(query.get(k) == v for k, v in match.items()):
                    return queue.pop(0)
        return None

    def _spend(self, path: str) -> tuple[dict[str, str], Reply | None]:
        """The rate-limit headers for a request of ``path`` and, once the budget of its window
        is spent, the 429 to answer instead."""
        with self._lock:
            if self._budget is None or not path.startswith(self._budget[0]):
                return {}, None
            _, budget, window_s = self._budget
            now = time.monotonic()
            if now >= self._window_end:
                self._window_end, self._window_used = now + window_s, 0
            self._window_used += 1
            left = self._window_end - now
            headers = {"X-RateLimit-Limit": str(budget),
                       "X-RateLimit-Remaining": str(max(0, budget - self._window_used)),
                       "X-RateLimit-Reset": str(math.ceil(time.time() + left))}
            if self._window_used <= budget:
                return headers, None
            self.throttled.append((now, path))
            return headers, Reply(429, b"Too many requests\n", "text/plain",
                                  {**headers, "Retry-After": str(math.ceil(left))})

    def _reply(self, path: str, query: dict[str, str], headers: dict[str, str]) -> Reply:
        if path in self._handlers:
            return self._handlers[path](query)
        if path not in self._static:
            return Reply(404, b"not found\n", "text/plain")
        body, content_type, ranges = self._static[path]
        spec = headers.get("range")
        if not ranges or not spec:
            return Reply(200, body, content_type, {"Accept-Ranges": "bytes" if ranges else "none"})
        return _range_reply(body, spec, content_type)


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """Quiet about clients that hang up (what the faults provoke); loud about the rest."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _range_reply(body: bytes, spec: str, content_type: str) -> Reply:
    unit, _, value = spec.partition("=")
    first, _, last = value.partition("-")
    total = len(body)
    if unit.strip() != "bytes" or "," in value:
        return Reply(416, b"", content_type, {"Content-Range": f"bytes */{total}"})
    if not first:  # suffix range: the last n bytes
        start, end = max(0, total - int(last)), total - 1
    else:
        start, end = int(first), min(int(last), total - 1) if last else total - 1
    if start > end or start >= total:
        return Reply(416, b"", content_type, {"Content-Range": f"bytes */{total}"})
    return Reply(206, body[start:end + 1], content_type, {"Content-Range": f"bytes {start}-{end}/{total}"})


def _make_handler(mirror: Mirror) -> type[BaseHTTPRequestHandler]:
    class RequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real servers: clients reuse connections
        # Headers and body go out in two writes; with Nagle's algorithm the second waits for the
        # client's delayed ACK (40 ms on Linux), which would swamp the latency we set.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            parts = urlsplit(self.path)
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            headers = {k.lower(): v for k, v in self.headers.items()}
            fault = mirror._record(parts.path, query, headers)
            limits, refused = mirror._spend(parts.path)
            if parts.path == LOOP_PATH:  # where the redirect_loop fault leads: round and round
                redirect(self)
                return
            if mirror.latency_s:
                time.sleep(mirror.latency_s)
            if refused is not None:
                self.send(refused)
                return
            if mirror.max_query_chars is not None and len(parts.query) > mirror.max_query_chars:
                self.send(QUERY_TOO_LONG)
                return
            reply = mirror._reply(parts.path, query, headers)
            if limits:
                reply = dataclasses.replace(reply, headers={**reply.headers, **limits})
            if fault is not None:
                FAULTS[fault](self, reply, mirror)
                return
            self.send(reply)

        def send(self, reply: Reply, *, body: bytes | None = None, length: int | None = None) -> None:
            """Send ``reply``; ``body``/``length`` let faults send less than they announce."""
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body) if length is None else length))
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(reply.body if body is None else body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet in tests
            pass

    return RequestHandler
