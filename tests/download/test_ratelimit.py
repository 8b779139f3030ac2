"""The per-host token bucket."""
from __future__ import annotations

import threading
import time

import pytest

from pipeline.download.ratelimit import RateLimiter, host_of


def starts(limiter: RateLimiter, host: str, n: int, threads: int) -> list[float]:
    """Times at which ``n`` acquisitions from ``threads`` threads were admitted."""
    times: list[float] = []
    lock = threading.Lock()

    def worker(count: int) -> None:
        for _ in range(count):
            limiter.acquire(host)
            with lock:
                times.append(time.monotonic())

    pool = [threading.Thread(target=worker, args=(n // threads,)) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sorted(times)


def test_requests_are_spaced_by_the_rate_across_threads():
    times = starts(RateLimiter(rate_per_s=50, burst=1), "a", 20, threads=4)
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) >= 0.02 * 0.9
    assert times[-1] - times[0] >= 19 * 0.02 * 0.95


def test_a_burst_goes_at_once_then_the_rate_applies():
    times = starts(RateLimiter(rate_per_s=20, burst=5), "a", 10, threads=1)
    assert times[4] - times[0] < 0.02
    assert times[9] - times[4] >= 5 * 0.05 * 0.9


def test_hosts_have_their_own_buckets():
    limiter = RateLimiter(rate_per_s=2, burst=1)
    limiter.acquire("a")
    start = time.monotonic()
    limiter.acquire("b")
    assert time.monotonic() - start < 0.05


def test_hold_pauses_every_request_to_the_host():
    limiter = RateLimiter(rate_per_s=1000, burst=1)
    limiter.hold("a", 0.2)
    start = time.monotonic()
    limiter.acquire("a")
    assert time.monotonic() - start >= 0.19


def test_bad_settings_and_host_keys():
    with pytest.raises(ValueError):
        RateLimiter(rate_per_s=0)
    assert host_of("https://skyserver.sdss.org/dr17/x?y=1") == "skyserver.sdss.org"
