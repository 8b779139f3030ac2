"""Retries with exponential backoff and jitter (issue 3).

An attempt signals a failure another attempt may fix by raising :class:`Retryable` (HTTP 429 and
5xx, timeouts, connection resets, truncated or HTML bodies); anything else ends the retries.
The waits between attempts end at once on Ctrl-C (``watchdog.pause``).
"""
from __future__ import annotations

import logging
import random
from typing import Callable, TypeVar

from pipeline.download.errors import DownloadError, Retryable
from pipeline.download.ratelimit import RateLimiter
from pipeline.download.settings import HttpCfg
from pipeline.download.watchdog import pause

T = TypeVar("T")
log = logging.getLogger(__name__)


def backoff_delay(cfg: HttpCfg, attempt: int, rng: random.Random) -> float:
    """Seconds before retry number ``attempt`` (0-based): exponential, capped, jittered.

    The random factor in [0.5, 1] spreads the retries of many threads (no thundering herd)
    while keeping at least half the exponential wait.
    """
    return min(cfg.backoff_max_s, cfg.backoff_s * 2 ** attempt) * rng.uniform(0.5, 1.0)


def with_retries(attempt: Callable[[], T], cfg: HttpCfg, limiter: RateLimiter, host: str, what: str,
                 rng: random.Random | None = None) -> T:
    """Run ``attempt`` (after the rate limiter admits it) until it succeeds or retries run out.

    Raises :class:`DownloadError` naming ``what`` and the last reason when every attempt failed,
    or when the server asks to wait longer (Retry-After) than ``cfg.backoff_max_s``.
    """
    rng = rng or random.Random()
    n = 0
    while True:
        limiter.acquire(host)
        try:
            return attempt()
        except Retryable as exc:
            if n == cfg.retries:
                raise DownloadError(what, f"{exc} (gave up after {n + 1} attempts)") from None
            wait = backoff_delay(cfg, n, rng)
            if exc.retry_after is not None:
                if exc.retry_after > cfg.backoff_max_s:
                    raise DownloadError(what, f"{exc}; the server asks to wait {exc.retry_after:g} s, "
                                              f"more than backoff_max_s = {cfg.backoff_max_s:g}") from None
                # The server's wait applies to every request to this host, not only this one.
                limiter.hold(host, exc.retry_after)
                wait = exc.retry_after
            log.debug("%s: %s; retry %d in %.2f s", what, exc, n + 1, wait)
            pause(wait)
        n += 1
