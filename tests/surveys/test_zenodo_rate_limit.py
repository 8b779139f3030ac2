"""Archive mode against a mirror that rate-limits like Zenodo (issue 9): its own rate,
concurrency and retry policy (``images.archive``), within the server's budget."""
from __future__ import annotations

from tests.mirror.fixtures import mirror, selected_of, source_of, surveys  # noqa: F401 - pytest fixtures
from tests.mirror.surveys import DECALS_ZIPS, GZ2_ZIP, fast_http

ZENODO = "/zenodo/"
BUDGET, WINDOW_S = 10, 1.0  # Zenodo: 60 a minute; scaled down so the tests take seconds


def most_in_any_window(times: list[float], window_s: float) -> int:
    """The most requests that arrived within any ``window_s`` seconds (sliding)."""
    return max(sum(1 for u in times if t <= u < t + window_s) for t in times)


def gaps(times: list[float]) -> list[float]:
    """Seconds between consecutive arrivals."""
    times = sorted(times)
    return [b - a for a, b in zip(times, times[1:])]


def test_gz2_archive_keeps_to_its_own_rate_within_zenodos_budget(surveys, tmp_path):  # noqa: F811
    """images.fetch is the cutouts' fast policy; images.archive's rate (under the budget) is the one used."""
    surveys.add_archives(("gz2",))
    block = surveys.source_params(images_mode="archive")["gz2"]
    block["images"]["archive"]["http"] = fast_http(rate_per_s=BUDGET * 0.6 / WINDOW_S, burst=1)
    source = source_of("gz2", block)
    selected = selected_of("gz2", block, source.fetch_catalogue(tmp_path))
    surveys.mirror.limit_rate(ZENODO, BUDGET, WINDOW_S)
    manifest = source.fetch_images(selected, tmp_path, tmp_path / "out")
    assert (manifest["status"] == "ok").all() and len(manifest) == len(selected)
    assert surveys.mirror.throttled == []
    times = [r.time for r in surveys.mirror.requests() if r.path.startswith(ZENODO)]
    assert most_in_any_window(times, WINDOW_S) <= BUDGET
    zip_times = [r.time for r in surveys.mirror.requests(GZ2_ZIP)]
    assert len(zip_times) > len(selected)  # the directory and every member
    assert min(gaps(zip_times)) >= WINDOW_S / (BUDGET * 0.6) * 0.5  # spaced by images.archive.http's rate


def test_gz2_archive_reads_as_many_at_a_time_as_images_archive_concurrency(surveys, tmp_path):  # noqa: F811
    surveys.add_archives(("gz2",))
    block = surveys.source_params(images_mode="archive")["gz2"]
    block["images"]["archive"]["concurrency"] = 1  # images.fetch.concurrency is 4
    source = source_of("gz2", block)
    selected = selected_of("gz2", block, source.fetch_catalogue(tmp_path))
    surveys.mirror.latency_s = latency = 0.05
    manifest = source.fetch_images(selected, tmp_path, tmp_path / "out")
    assert (manifest["status"] == "ok").all()
    assert min(gaps([r.time for r in surveys.mirror.requests(GZ2_ZIP)])) >= latency * 0.9  # one at a time


def test_decals_archive_waits_for_the_reset_one_request_at_a_time(surveys, tmp_path):  # noqa: F811
    """A client far faster than the budget keeps within it by the X-RateLimit headers alone;
    images.archive's policy is the one used: its concurrency (1, not images.fetch's 4) and its
    backoff_max_s (2 s, above the mirror's Retry-After; images.fetch's is 0.05 s)."""
    surveys.add_archives(("decals",))
    block = surveys.source_params(images_mode="archive")["decals"]
    block["images"]["archive"]["concurrency"] = 1
    block["images"]["fetch"] = {**block["images"]["fetch"], "http": fast_http(backoff_max_s=0.05)}
    source = source_of("decals", block)
    selected = selected_of("decals", block, source.fetch_catalogue(tmp_path))
    surveys.mirror.limit_rate(ZENODO, BUDGET, WINDOW_S)
    surveys.mirror.latency_s = latency = 0.05
    manifest = source.fetch_images(selected, tmp_path, tmp_path / "out")
    assert (manifest["status"] == "ok").all() and len(manifest) == len(selected)
    assert surveys.mirror.throttled == []
    times = [r.time for r in surveys.mirror.requests() if r.path in DECALS_ZIPS]
    assert len(times) > len(selected)
    assert min(gaps(times)) >= latency * 0.9  # one at a time
