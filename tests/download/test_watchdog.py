"""Ctrl-C reaches every wait of the download library, not only the socket reads (issue 8)."""
from __future__ import annotations

import dataclasses
import threading

import pytest

from pipeline.download import watchdog
from pipeline.download.errors import Cancelled, Retryable
from pipeline.download.ratelimit import RateLimiter
from pipeline.download.retry import with_retries
from tests.mirror.fixtures import http  # noqa: F401 - pytest fixtures


@pytest.fixture(autouse=True)
def reset():
    yield
    watchdog.reset_cancel()


def ended_by_cancel(wait) -> list[BaseException]:
    """Run ``wait()`` in a thread, cancel, and return what it raised (it must end at once)."""
    raised: list[BaseException] = []
    started = threading.Event()

    def run() -> None:
        started.set()
        try:
            wait()
        except BaseException as exc:  # noqa: BLE001 - what the thread ended with is the result
            raised.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait()
    watchdog.cancel_all()
    thread.join(timeout=5)
    assert not thread.is_alive(), "the wait did not end on cancel"
    return raised


def test_a_backoff_wait_ends_on_cancel(http):  # noqa: F811
    def attempt() -> None:
        raise Retryable("503")

    slow = dataclasses.replace(http, backoff_s=60.0, backoff_max_s=60.0)
    raised = ended_by_cancel(lambda: with_retries(attempt, slow, RateLimiter(100.0), "host", "what"))
    assert [type(e) for e in raised] == [Cancelled]


def test_a_rate_limit_hold_ends_on_cancel():
    limiter = RateLimiter(100.0)
    limiter.hold("host", 60.0)  # a 429's Retry-After
    assert [type(e) for e in ended_by_cancel(lambda: limiter.acquire("host"))] == [Cancelled]


def test_no_attempt_starts_once_cancelled():
    watchdog.cancel_all()
    with pytest.raises(Cancelled):
        with watchdog.Deadline(10.0):
            pass
