"""Faults the mirror can inject in place of a normal reply (DESIGN sect. 2, failure modes).

Each takes the request handler, the normal reply and the mirror (for its ``hang_s``).  ``retry_after`` is the 429's
Retry-After in seconds.
"""
from __future__ import annotations

import socket
import struct
import time
from typing import Any, Callable

from tests.mirror.replies import Reply

RETRY_AFTER_S = 1
ERROR_PAGE = (b"<!DOCTYPE html>\n<html><head><title>Service Unavailable</title></head>\n"
              b"<body><h1>The service is temporarily unavailable</h1></body></html>\n")
MAINTENANCE_PAGE = (b"<html><head><title>SkyServer maintenance</title></head>\n"
                    b"<body>We are down for maintenance; please come back later.</body></html>\n")


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
    handler.send_response(reply.status)
    handler.send_header("Content-Type", reply.content_type)
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.wfile.write(reply.body[:len(reply.body) // 2])
    handler.close_connection = True


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
}
