"""Download params (``survey.<name>.source``): every rate, retry count and timeout is a param.

Parsed strictly with :func:`pipeline.config.parse` as part of each source's configuration.
"""
from __future__ import annotations

from dataclasses import dataclass

from pipeline.config import check_fraction, check_positive, require


@dataclass(frozen=True)
class HttpCfg:
    """How to talk to one server.

    ``rate_per_s`` and ``burst`` form the per-host token bucket (SkyServer allows about 60 SQL
    queries a minute, DESIGN sect. 2); a failed attempt is retried up to ``retries`` times after
    ``backoff_s * 2**attempt`` seconds (times a random factor in [0.5, 1], at most
    ``backoff_max_s``).  A 429's Retry-After is honoured when it is at most ``backoff_max_s``, and
    a reply saying the server's budget is spent (``X-RateLimit-Remaining: 0``) holds the host
    until ``X-RateLimit-Reset``, for at most ``backoff_max_s``.

    The timeouts bound each connect and each socket read; ``deadline_s`` bounds a whole attempt
    (connect, headers and body), so a server that trickles bytes cannot hold a request for hours.
    ``max_bytes`` is the largest body accepted (decoded, so a compressed bomb is caught while it
    inflates): a larger one fails at once, without another attempt.
    """

    rate_per_s: float
    burst: int
    retries: int
    backoff_s: float
    backoff_max_s: float
    connect_timeout_s: float
    read_timeout_s: float
    deadline_s: float
    max_bytes: int

    def validate(self, path: str) -> None:
        for name in ("rate_per_s", "burst", "connect_timeout_s", "read_timeout_s", "deadline_s", "max_bytes"):
            check_positive(getattr(self, name), f"{path}.{name}")
        require(self.deadline_s >= self.connect_timeout_s, f"{path}.deadline_s",
                f"{self.deadline_s} must be >= connect_timeout_s ({self.connect_timeout_s}): "
                "it bounds the whole request, connection included")
        require(self.retries >= 0, f"{path}.retries", f"{self.retries} must be >= 0")
        require(self.backoff_s >= 0, f"{path}.backoff_s", f"{self.backoff_s} must be >= 0")
        require(self.backoff_max_s >= self.backoff_s, f"{path}.backoff_max_s",
                f"{self.backoff_max_s} must be >= backoff_s ({self.backoff_s})")


@dataclass(frozen=True)
class DownloadCfg:
    """One file from one URL (a catalogue, an id mapping)."""

    url: str
    http: HttpCfg

    def validate(self, path: str) -> None:
        check_url(self.url, f"{path}.url")


@dataclass(frozen=True)
class FetchCfg:
    """Many files fetched concurrently (the images of the selected galaxies)."""

    concurrency: int
    max_failed_fraction: float  # the stage fails when more files than this fraction failed
    max_trailing_bytes: int  # an image with more bytes after its end marker is not accepted
    http: HttpCfg

    def validate(self, path: str) -> None:
        check_positive(self.concurrency, f"{path}.concurrency")
        check_fraction(self.max_failed_fraction, f"{path}.max_failed_fraction")
        require(self.max_trailing_bytes >= 0, f"{path}.max_trailing_bytes",
                f"{self.max_trailing_bytes} must be >= 0")


def check_url(url: str, path: str) -> None:
    """An http(s) URL without a trailing slash (paths are appended to base URLs)."""
    require(url.startswith(("http://", "https://")), path, f"{url!r} is not an http(s) URL")
    require(not url.endswith("/"), path, f"{url!r}: drop the trailing '/'")
