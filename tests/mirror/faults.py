"""Faults the mirror can inject in place of a normal reply (DESIGN sect. 2, failure modes).

Each takes the request handler, the normal reply and the mirror (for its ``hang_s``).  ``retry_after`` is the 429's
Retry-After in seconds.

Issue 8 adds the faults no socket timeout catches: bytes trickled (in the body or in the
headers), bodies far above any size cap (streamed from a generator, never built in memory; with
and without Content-Length), a gzip bomb, a redirect loop, an undecodable Content-Encoding, and
a close-delimited body cut at a line's end (only a row count can tell it).
"""
from __future__ import annotations

import functools
import gzip
import socket
import struct
import time
from typing import Any, Callable, Iterable

from tests.mirror.replies import Reply

RETRY_AFTER_S = 1
ERROR_PAGE = (b"<!DOCTYPE html>\n<html><head><title>Service Unavailable</title></head>\n"
              b"<body><h1>The service is temporarily unavailable</h1></body></html>\n")
MAINTENANCE_PAGE = (b"<html><head><title>SkyServer maintenance</title></head>\n"
                    b"<body>We are down for maintenance; please come back later.</body></html>\n")
#: Seconds between the bytes of a trickle (the issue's "one byte a second").
TRICKLE_INTERVAL_S = 1.0
#: Bytes of the oversize replies and of the gzip bomb once inflated: far above any cap.
HUGE_BYTES = 1 << 30
#: The path the redirect loop sends the client to; the mirror answers it with a redirect to itself.
LOOP_PATH = "/redirect-loop"
_BLOCK = 64 << 10


def _reply(status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, body, content_type, headers or {})


def server_error(handler: Any, reply: Reply, mirror: Any) -> None:
    handler.send(_reply(500, b"Internal Server Error\n", "text/plain"))


def unavailable_html(handler: Any, reply: Reply, mirror: Any) -> None:
    handler.send(_reply(503, ERROR_PAGE, "text/html"))


def html_200(handler: Any, reply: Reply, mirror: Any) -> None:
    """An HTML page with status 200 where data was asked for (SkyServer, proxies)."""
    handler.send(_reply(200, MAINTENANCE_PAGE, "text/html"))


def too_many_requests(handler: Any, reply: Reply, mirror: Any) -> None:
    handler.send(_reply(429, b"Too Many Requests\n", "text/plain", {"Retry-After": str(RETRY_AFTER_S)}))


def not_found(handler: Any, reply: Reply, mirror: Any) -> None:
    handler.send(_reply(404, b"Not Found\n", "text/plain"))


def hang(handler: Any, reply: Reply, mirror: Any) -> None:
    """Say nothing for ``mirror.hang_s`` seconds, then drop the connection (a client timeout)."""
    time.sleep(mirror.hang_s)
    handler.close_connection = True


def reset(handler: Any, reply: Reply, mirror: Any) -> None:
    """Close with a TCP reset (SO_LINGER 0) before answering: 'connection reset by peer'."""
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    handler.connection.close()
    handler.close_connection = True


def truncated(handler: Any, reply: Reply, mirror: Any) -> None:
    """Announce the full Content-Length, send half the body, close."""
    handler.send(reply, body=reply.body[:len(reply.body) // 2], length=len(reply.body))
    handler.close_connection = True


def truncated_unannounced(handler: Any, reply: Reply, mirror: Any) -> None:
    """Status 200 without a Content-Length, half the body, close: only the content shows it."""
    _head(handler, reply.status, reply.content_type, {"Connection": "close"})
    handler.wfile.write(reply.body[:len(reply.body) // 2])
    handler.close_connection = True


def truncated_rows(handler: Any, reply: Reply, mirror: Any) -> None:
    """As ``truncated_unannounced`` but cut at the end of a line: every row sent is whole, the
    CSV is merely short (a SQL page that seems to be the last one)."""
    cut = reply.body.rfind(b"\n", 0, len(reply.body) // 2) + 1
    _head(handler, reply.status, reply.content_type, {"Connection": "close"})
    handler.wfile.write(reply.body[:cut])
    handler.close_connection = True


def _head(handler: Any, status: int, content_type: str, headers: dict[str, str]) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    for key, value in headers.items():
        handler.send_header(key, value)
    handler.end_headers()


def _write_all(handler: Any, blocks: Iterable[bytes]) -> None:
    """Write ``blocks`` until the client hangs up (it should, long before the end)."""
    try:
        for block in blocks:
            handler.wfile.write(block)
    except OSError:
        pass
    handler.close_connection = True


def _trickle(handler: Any, data: bytes) -> None:
    """``data`` one byte every :data:`TRICKLE_INTERVAL_S`, until the client hangs up."""
    try:
        for i in range(len(data)):
            if i:
                time.sleep(TRICKLE_INTERVAL_S)
            handler.wfile.write(data[i:i + 1])
    except OSError:
        pass
    handler.close_connection = True


def trickle(handler: Any, reply: Reply, mirror: Any) -> None:
    """The headers (with the true Content-Length), then the body one byte a second."""
    handler.send_response(reply.status)
    handler.send_header("Content-Type", reply.content_type)
    handler.send_header("Content-Length", str(len(reply.body)))
    handler.end_headers()
    _trickle(handler, reply.body)


def trickle_unannounced(handler: Any, reply: Reply, mirror: Any) -> None:
    """The headers without Content-Length (the body ends when the connection closes), then the
    body one byte a second: a body cut off looks complete to HTTP."""
    _head(handler, reply.status, reply.content_type, {"Connection": "close"})
    _trickle(handler, reply.body)


def trickle_headers(handler: Any, reply: Reply, mirror: Any) -> None:
    """The status line and headers themselves one byte a second."""
    head = (f"HTTP/1.1 {reply.status} OK\r\nContent-Type: {reply.content_type}\r\n"
            f"Content-Length: {len(reply.body)}\r\n\r\n").encode()
    _trickle(handler, head + reply.body)


def _zeros(n: int) -> Iterable[bytes]:
    block = bytes(_BLOCK)
    for start in range(0, n, _BLOCK):
        yield block[:min(_BLOCK, n - start)]


def oversize(handler: Any, reply: Reply, mirror: Any) -> None:
    """A 1 GiB body with its Content-Length: refusable from the headers alone."""
    _head(handler, 200, reply.content_type, {"Content-Length": str(HUGE_BYTES)})
    _write_all(handler, _zeros(HUGE_BYTES))


def oversize_unannounced(handler: Any, reply: Reply, mirror: Any) -> None:
    """A 1 GiB body without Content-Length (close-delimited): only counting shows it."""
    _head(handler, 200, reply.content_type, {"Connection": "close"})
    _write_all(handler, _zeros(HUGE_BYTES))


@functools.lru_cache(maxsize=1)
def bomb() -> bytes:
    """1 GiB of zeros, gzip-compressed (about 1 MB): 64 gzip members of 16 MiB each (a gzip
    stream may hold several), so it takes milliseconds to make."""
    member = gzip.compress(bytes(16 << 20), compresslevel=9)
    return member * (HUGE_BYTES // (16 << 20))


def gzip_bomb(handler: Any, reply: Reply, mirror: Any) -> None:
    """``Content-Encoding: gzip`` of 1 GiB of zeros: small on the wire, huge once decoded."""
    body = bomb()
    _head(handler, 200, reply.content_type, {"Content-Encoding": "gzip", "Content-Length": str(len(body))})
    _write_all(handler, [body])


def redirect_loop(handler: Any, reply: Reply, mirror: Any) -> None:
    """A 302 to :data:`LOOP_PATH`, which redirects to itself for ever."""
    redirect(handler)


def redirect_bomb(handler: Any, reply: Reply, mirror: Any) -> None:
    """A 302 (to the right place) whose body is the gzip bomb: nobody should read it."""
    body = bomb()
    handler.send_response(302)
    handler.send_header("Location", handler.path)
    handler.send_header("Content-Encoding", "gzip")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    _write_all(handler, [body])


def redirect(handler: Any) -> None:
    handler.send_response(302)
    handler.send_header("Location", LOOP_PATH)
    handler.send_header("Content-Length", "0")
    handler.end_headers()


def bad_encoding(handler: Any, reply: Reply, mirror: Any) -> None:
    """``Content-Encoding: gzip`` on a body that is not gzip (prefixed, in case it was)."""
    handler.send(Reply(reply.status, b"not gzip " + reply.body, reply.content_type,
                       {**reply.headers, "Content-Encoding": "gzip"}))


FAULTS: dict[str, Callable[[Any, Any, Any], None]] = {
    "500": server_error,
    "503_html": unavailable_html,
    "html_200": html_200,
    "429": too_many_requests,
    "404": not_found,
    "timeout": hang,
    "reset": reset,
    "truncated": truncated,
    "truncated_unannounced": truncated_unannounced,
    "truncated_rows": truncated_rows,
    "trickle": trickle,
    "trickle_unannounced": trickle_unannounced,
    "trickle_headers": trickle_headers,
    "oversize": oversize,
    "oversize_unannounced": oversize_unannounced,
    "gzip_bomb": gzip_bomb,
    "redirect_loop": redirect_loop,
    "redirect_bomb": redirect_bomb,
    "bad_encoding": bad_encoding,
}
