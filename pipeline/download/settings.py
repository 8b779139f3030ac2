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
    ``backoff_max_s``).  A 429's Retry-After is honoured when it is at most ``backoff_max_s``.
    """

    rate_per_s: float
    burst: int
    retries: int
    backoff_s: float
    backoff_max_s: float
    connect_timeout_s: float
    read_timeout_s: float

    def validate(self, path: str) -> None:
        for name in ("rate_per_s", "burst", "connect_timeout_s", "read_timeout_s"):
            check_positive(getattr(self, name), f"{path}.{name}")
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
    http: HttpCfg

    def validate(self, path: str) -> None:
        check_positive(self.concurrency, f"{path}.concurrency")
        check_fraction(self.max_failed_fraction, f"{path}.max_failed_fraction")


def check_url(url: str, path: str) -> None:
    """An http(s) URL without a trailing slash (paths are appended to base URLs)."""
    require(url.startswith(("http://", "https://")), path, f"{url!r} is not an http(s) URL")
    require(not url.endswith("/"), path, f"{url!r}: drop the trailing '/'")
