"""The HTTP client against real faults from the loopback mirror: retried, or reported."""
from __future__ import annotations

import dataclasses
import time
import tracemalloc

import pytest

from pipeline.config import ConfigError, parse
from pipeline.download.errors import DownloadError
from pipeline.download.http import HttpClient, rate_limit_wait, retry_after_seconds
from pipeline.download.settings import HttpCfg
from pipeline.download.validate import check_image
from tests.mirror.drawings import galaxy_image
from tests.mirror.faults import RETRY_AFTER_S, TRICKLE_INTERVAL_S, bomb
from tests.mirror.fixtures import http, mirror  # noqa: F401 - pytest fixtures
from tests.mirror.surveys import fast_http

IMAGE = "/cutout.jpg"
SIZE = 64


@pytest.fixture
def image(mirror) -> bytes:  # noqa: F811
    body = galaxy_image("spiral", SIZE, 1)
    mirror.serve_bytes(IMAGE, body, "image/jpeg")
    return body


def checked_get(client: HttpClient, url: str) -> bytes:
    return client.get(url, check=lambda body: check_image(body, SIZE)).content


@pytest.mark.parametrize("fault", ["500", "503_html", "html_200", "timeout", "reset", "truncated",
                                   "truncated_unannounced", "429"])
def test_each_fault_is_retried_to_success(mirror, http, image, fault):  # noqa: F811
    mirror.inject(IMAGE, fault)
    start = time.monotonic()
    assert checked_get(HttpClient(http), mirror.url + IMAGE) == image
    assert len(mirror.requests(IMAGE)) == 2
    if fault == "429":  # Retry-After honoured, not the (much shorter) backoff
        assert time.monotonic() - start >= RETRY_AFTER_S * 0.95


def test_a_fault_that_persists_is_reported_with_its_reason(mirror, http, image):  # noqa: F811
    mirror.inject(IMAGE, *["503_html"] * (http.retries + 1))
    with pytest.raises(DownloadError, match=r"HTTP 503.*HTML error page.*gave up after 4 attempts"):
        checked_get(HttpClient(http), mirror.url + IMAGE)
    assert len(mirror.requests(IMAGE)) == http.retries + 1


def test_an_html_page_with_status_200_is_never_taken_for_the_image(mirror, http, image):  # noqa: F811
    mirror.inject(IMAGE, *["html_200"] * (http.retries + 1))
    with pytest.raises(DownloadError, match="an HTML page instead of an image"):
        checked_get(HttpClient(http), mirror.url + IMAGE)


def test_wrong_size_and_truncation_are_caught_by_decoding(mirror, http):  # noqa: F811
    mirror.serve_bytes("/small.jpg", galaxy_image("round", SIZE // 2, 1))
    mirror.serve_bytes("/cut.jpg", galaxy_image("round", SIZE, 1)[:-400])
    client = HttpClient(dataclasses.replace(http, retries=0))
    with pytest.raises(DownloadError, match=f"size 32x32, expected {SIZE}x{SIZE}"):
        checked_get(client, mirror.url + "/small.jpg")
    with pytest.raises(DownloadError, match="does not decode"):
        checked_get(client, mirror.url + "/cut.jpg")


def test_a_404_is_not_retried(mirror, http, image):  # noqa: F811
    mirror.inject(IMAGE, "404")
    with pytest.raises(DownloadError, match="HTTP 404"):
        checked_get(HttpClient(http), mirror.url + IMAGE)
    assert len(mirror.requests(IMAGE)) == 1


def test_a_retry_after_beyond_the_params_limit_fails_at_once(mirror, http, image):  # noqa: F811
    mirror.inject(IMAGE, "429")
    client = HttpClient(dataclasses.replace(http, backoff_max_s=RETRY_AFTER_S / 2))
    with pytest.raises(DownloadError, match="asks to wait 1 s, more than backoff_max_s"):
        checked_get(client, mirror.url + IMAGE)
    assert len(mirror.requests(IMAGE)) == 1


def test_requests_name_the_project(mirror, http, image):  # noqa: F811
    checked_get(HttpClient(http), mirror.url + IMAGE)
    assert mirror.requests(IMAGE)[0].headers["user-agent"].startswith("galaxy-contrastive")


def test_download_streams_to_the_final_name_only_when_complete(mirror, http, tmp_path):  # noqa: F811
    body = bytes(range(256)) * 4000
    mirror.serve_bytes("/big.bin", body)
    mirror.inject("/big.bin", "truncated", "reset")
    dest = tmp_path / "big.bin"
    HttpClient(http).download(mirror.url + "/big.bin", dest)
    assert dest.read_bytes() == body
    assert [p.name for p in tmp_path.iterdir()] == ["big.bin"]


def test_retry_after_accepts_seconds_and_http_dates():
    assert retry_after_seconds("7") == 7
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0  # in the past
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


# --- issue 8: faults no socket timeout catches --------------------------------------------------

def patient(http, **changes):  # noqa: F811 - a read timeout above the trickle's interval
    """``http`` whose read timeout a 1 byte/s trickle never trips: only the deadline can end it."""
    return dataclasses.replace(http, read_timeout_s=TRICKLE_INTERVAL_S * 2, **changes)


@pytest.mark.parametrize("fault", ["trickle", "trickle_unannounced", "trickle_headers"])
def test_a_trickle_ends_at_the_deadline_and_is_retried(mirror, http, image, fault):  # noqa: F811
    mirror.inject(IMAGE, fault)
    start = time.monotonic()
    assert checked_get(HttpClient(patient(http)), mirror.url + IMAGE) == image
    assert len(mirror.requests(IMAGE)) == 2
    assert time.monotonic() - start < http.deadline_s + 3  # the "deadline plus a few seconds"


@pytest.mark.parametrize("fault", ["trickle", "trickle_unannounced"])
def test_a_trickle_that_persists_is_reported_with_the_deadline(mirror, http, image, fault):  # noqa: F811
    """Never the bytes received so far: without Content-Length they would look like the body."""
    mirror.inject(IMAGE, fault)
    with pytest.raises(DownloadError, match=r"deadline of 3 s exceeded \(\d+ bytes received\)"):
        HttpClient(patient(http, retries=0)).get(mirror.url + IMAGE)


@pytest.mark.parametrize("fault", ["oversize", "oversize_unannounced", "gzip_bomb"])
def test_a_body_above_the_cap_is_refused_at_once_with_bounded_memory(mirror, http, image, fault):  # noqa: F811
    """1 GiB on the wire or once inflated; the client reads little more than its cap of 4 MB,
    and asks once only (the file will be as big next time)."""
    cap = 4_000_000
    bomb()  # made before measuring: the mirror shares this process
    mirror.inject(IMAGE, fault)
    tracemalloc.start()
    try:
        with pytest.raises(DownloadError, match=f"larger than max_bytes = {cap}"):
            checked_get(HttpClient(dataclasses.replace(http, max_bytes=cap)), mirror.url + IMAGE)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3 * cap
    assert len(mirror.requests(IMAGE)) == 1


def test_the_body_of_a_redirect_is_never_read(mirror, http, image):  # noqa: F811
    """A 302 carrying a gzip bomb: the redirect is followed, its body dropped unread."""
    bomb()
    mirror.inject(IMAGE, "redirect_bomb")
    tracemalloc.start()
    try:
        assert checked_get(HttpClient(http), mirror.url + IMAGE) == image
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10_000_000
    assert len(mirror.requests(IMAGE)) == 2


def test_a_download_above_the_cap_leaves_nothing(mirror, http, tmp_path):  # noqa: F811
    mirror.serve_bytes("/big.bin", b"x" * 1000)
    mirror.inject("/big.bin", "oversize_unannounced")
    with pytest.raises(DownloadError, match="larger than max_bytes = 500000"):
        HttpClient(dataclasses.replace(http, max_bytes=500_000)).download(mirror.url + "/big.bin", tmp_path / "big.bin")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fault, reason", [
    ("redirect_loop", r"redirect loop or too many redirects \(TooManyRedirects: Exceeded 30 redirects.\)"),
    ("bad_encoding", r"the body does not decode as its Content-Encoding says \(DecodeError: "),
])
def test_library_errors_become_one_line_reasons_without_retries(mirror, http, image, fault, reason):  # noqa: F811
    mirror.inject(IMAGE, fault)
    with pytest.raises(DownloadError, match=reason) as caught:
        checked_get(HttpClient(http), mirror.url + IMAGE)
    assert "\n" not in str(caught.value)
    assert len(mirror.requests(IMAGE)) == 1


def test_a_bad_url_is_a_reason_not_a_traceback(http):  # noqa: F811
    with pytest.raises(DownloadError, match=r"bad URL \(InvalidURL: "):
        HttpClient(http).get("http://127.0.0.1:99999/x")


def test_a_body_cut_short_without_content_length_is_left_to_the_content_check(mirror, http, image):  # noqa: F811
    """HTTP cannot tell a close-delimited body cut short: the image check does, and it is retried."""
    mirror.inject(IMAGE, "truncated_unannounced")
    assert checked_get(HttpClient(http), mirror.url + IMAGE) == image
    assert len(mirror.requests(IMAGE)) == 2


@pytest.mark.parametrize("changes, message", [
    ({"deadline_s": 1.0}, r"x.deadline_s: 1.0 must be >= connect_timeout_s \(2.0\)"),
    ({"deadline_s": 0}, r"x.deadline_s: 0.0 must be positive"),
    ({"max_bytes": 0}, r"x.max_bytes: 0 must be positive"),
])
def test_deadline_and_size_cap_are_checked_params(changes, message):
    with pytest.raises(ConfigError, match=message):
        parse(HttpCfg, fast_http(**changes), "x")


# --- issue 9: Zenodo's rate-limit headers -------------------------------------------------------

def test_a_spent_budget_holds_the_host_until_the_reset(mirror, http, image):  # noqa: F811
    """X-RateLimit-Remaining: 0 holds every request until X-RateLimit-Reset: the fast client
    (500 requests/s) never runs into the mirror's 429."""
    mirror.limit_rate(IMAGE, 3, window_s=1.0)
    client = HttpClient(http)
    for _ in range(6):
        assert checked_get(client, mirror.url + IMAGE) == image
    assert mirror.throttled == []
    times = [r.time for r in mirror.requests(IMAGE)]
    assert len(times) == 6 and times[3] - times[0] >= 1.0 * 0.95  # the 4th waited for the new window


def test_rate_limit_headers_give_the_wait_only_when_the_budget_is_spent():
    reset = time.time() + 30
    assert rate_limit_wait({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": f"{reset:.0f}"}) == \
        pytest.approx(30, abs=1.5)  # epoch seconds (Zenodo)
    assert rate_limit_wait({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "7"}) == 7  # seconds from now
    assert rate_limit_wait({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1000000001"}) == 0  # past
    assert rate_limit_wait({"X-RateLimit-Remaining": "12", "X-RateLimit-Reset": f"{reset:.0f}"}) is None
    assert rate_limit_wait({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "soon"}) is None
    assert rate_limit_wait({}) is None
