"""Whole-request deadlines and Ctrl-C for requests in flight (issue 8).

Socket timeouts bound each read, not a request: a server that sends a byte a second keeps a
read alive for ever.  So each attempt runs under a :class:`Deadline`, and the sockets it uses
are registered with it (the sessions of ``HttpClient`` mount :class:`WatchedAdapter`, whose
connections register their socket on connecting and on each request).  When the deadline
passes, a timer shuts those sockets down: the blocked read returns at once and the attempt
fails with the deadline as its reason.

:func:`cancel_all` (Ctrl-C during a fetch) does the same to every attempt in flight and sets
:data:`CANCEL`, which ends the waits between attempts (:func:`pause`) and refuses new attempts,
each by raising :class:`~pipeline.download.errors.Cancelled`.
"""
from __future__ import annotations

import socket
import threading
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from pipeline.download.errors import Cancelled

#: Set by :func:`cancel_all`: no attempt starts and no wait goes on while it is set.
CANCEL = threading.Event()
_live: set[Deadline] = set()
_live_lock = threading.Lock()
_current = threading.local()


def _shut(sock: socket.socket) -> None:
    """Shut ``sock`` down so a read blocked on it in another thread returns now.

    The plain socket's method also for TLS sockets: ``SSLSocket.shutdown`` would drop the TLS
    state under the reading thread's feet.
    """
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass  # already closed or never connected


class Deadline:
    """``with Deadline(seconds) as d:`` one attempt; ``d.expired`` tells whether it was cut off,
    ``d.cancelled`` whether Ctrl-C was."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = False
        self.cancelled = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._done = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Deadline:
        if CANCEL.is_set():
            raise Cancelled("cancelled")
        with _live_lock:
            _live.add(self)
        _current.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        with self._lock:
            self._done = True  # a timer firing now must not shut a socket back in the pool
        with _live_lock:
            _live.discard(self)
        _current.deadline = None

    def register(self, sock: socket.socket) -> None:
        with self._lock:
            if self._done:
                return
            self._sockets.append(sock)
            if self.expired or self.cancelled:
                _shut(sock)

    def _stop(self, flag: str) -> None:
        with self._lock:
            if self._done:
                return
            setattr(self, flag, True)
            for sock in self._sockets:
                _shut(sock)

    def _expire(self) -> None:
        self._stop("expired")

    def cancel(self) -> None:
        self._stop("cancelled")


def register(sock: socket.socket | None) -> None:
    """Put ``sock`` under the deadline of this thread's attempt, if one is running."""
    deadline = getattr(_current, "deadline", None)
    if deadline is not None and sock is not None:
        deadline.register(sock)


def cancel_all() -> None:
    """Ctrl-C: abort every attempt in flight and every wait; refuse new attempts."""
    CANCEL.set()
    with _live_lock:
        live = list(_live)
    for deadline in live:
        deadline.cancel()


def reset_cancel() -> None:
    """Allow requests again (once the interrupted fetch has wound down)."""
    CANCEL.clear()


def pause(seconds: float) -> None:
    """Sleep ``seconds``, or raise :class:`Cancelled` as soon as :func:`cancel_all` is called."""
    if CANCEL.wait(seconds):
        raise Cancelled("cancelled")


class _Watched:
    """Mixin of the connection classes: register the socket with the attempt's deadline."""

    sock: Any

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        register(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        register(self.sock)  # a kept-alive connection: connect() is not called again
        super().request(*args, **kwargs)  # type: ignore[misc]


class WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class WatchedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = WatchedHTTPConnection


class WatchedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = WatchedHTTPSConnection


POOL_CLASSES = {"http": WatchedHTTPConnectionPool, "https": WatchedHTTPSConnectionPool}


class WatchedAdapter(HTTPAdapter):
    """requests' adapter whose connections (direct or through a proxy) are watched.

    It also drops the body of a redirect unread: requests would read it whole into memory before
    following the redirect (``Session.resolve_redirects``), outside any size cap, and never use it.
    """

    def build_response(self, req: Any, resp: Any) -> Any:
        response = super().build_response(req, resp)
        if response.is_redirect:
            response.raw.close()  # the connection goes with the unread body
            response._content = b""
            response._content_consumed = True
        return response

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = POOL_CLASSES

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = POOL_CLASSES
        return manager
