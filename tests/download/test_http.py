"""The HTTP client against real faults from the loopback mirror: retried, or reported."""
from __future__ import annotations

import dataclasses
import time

import pytest

from pipeline.download.errors import DownloadError
from pipeline.download.http import HttpClient, retry_after_seconds
from pipeline.download.validate import check_image
from tests.mirror.drawings import galaxy_image
from tests.mirror.faults import RETRY_AFTER_S
from tests.mirror.fixtures import http, mirror  # noqa: F401 - pytest fixtures

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
