"""A per-host token bucket, shared by every thread of one client.

Implemented as the generic cell rate algorithm (GCRA): each host has a theoretical arrival time
(TAT); a request may start once it is no more than ``burst - 1`` intervals ahead of the TAT, and
starting moves the TAT one interval on.  So in any window of ``T`` seconds at most
``burst - 1 + rate * T`` requests start (rounded up), which is the rate limit.

Two steps per request: a thread first reserves a slot under the lock and sleeps until it, so
waiting threads queue in order instead of all waking at once; on waking it checks the rule
again against the requests that actually started, because a thread that overslept (a busy CPU)
must not let the next ones start closer together than the rate allows.  The sleeps end at once
on Ctrl-C (``watchdog.pause``): a 429's hold may be minutes.
"""
from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit

from pipeline.download.watchdog import pause


class RateLimiter:
    def __init__(self, rate_per_s: float, burst: int = 1):
        if rate_per_s <= 0 or burst < 1:
            raise ValueError(f"need rate_per_s > 0 and burst >= 1, got {rate_per_s}, {burst}")
        self.interval = 1.0 / rate_per_s
        self.tolerance = (burst - 1) * self.interval
        self._reserved: dict[str, float] = {}  # TAT of the slots handed out
        self._started: dict[str, float] = {}  # TAT of the requests that started
        self._lock = threading.Lock()

    def acquire(self, host: str) -> None:
        """Block until a request to ``host`` may start."""
        with self._lock:
            now = time.monotonic()
            tat = max(self._reserved.get(host, now), now)
            slot = max(now, tat - self.tolerance)
            self._reserved[host] = max(tat, slot) + self.interval
        while True:
            if slot > now:
                pause(slot - now)
            with self._lock:
                now = time.monotonic()
                tat = max(self._started.get(host, now), now)
                slot = tat - self.tolerance
                if now >= slot:
                    self._started[host] = tat + self.interval
                    return

    def hold(self, host: str, seconds: float) -> None:
        """No request to ``host`` starts within ``seconds`` (a 429's Retry-After applies to all)."""
        with self._lock:
            until = time.monotonic() + seconds + self.tolerance
            for tats in (self._reserved, self._started):
                tats[host] = max(tats.get(host, 0.0), until)


def host_of(url: str) -> str:
    """The bucket key of ``url``: scheme-less host and port."""
    return urlsplit(url).netloc
