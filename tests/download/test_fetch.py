"""The concurrent fetcher: faults retried or recorded, atomic files, resumable after a kill."""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from pipeline.download.errors import Interrupted, TooManyFailures
from pipeline.download.fetch import ALREADY_COMPLETE, CANCEL_GRACE_S, FetchJob, fetch_all
from pipeline.download.http import PARTIAL_MARKER, HttpClient
from pipeline.download.images import cutout_jobs, run_jobs
from pipeline.download.manifest import check_failures, failure_summary
from pipeline.download.validate import ImageSpec
from pipeline.download.validate import ImageSpec
from tests.mirror.drawings import galaxy_image
from tests.mirror.faults import TRICKLE_INTERVAL_S
from tests.mirror.fixtures import http, mirror  # noqa: F401 - pytest fixtures
from tests.mirror.skyserver import cutout_handler

ROOT = Path(__file__).resolve().parents[2]
CUTOUT = "/getjpeg"
SIZE = 48
SPEC = ImageSpec(SIZE, 64, "x.max_trailing_bytes")
SPEC = ImageSpec(SIZE, 0, "x.max_trailing_bytes")


def serve_cutouts(mirror) -> None:  # noqa: F811
    mirror.serve(CUTOUT, cutout_handler(lambda ra, dec, w, h: galaxy_image("round", w, int(float(ra)), height=h),
                                        "width", "height"))


def queries(n: int) -> dict[str, dict[str, str]]:
    return {f"g{i}": {"ra": f"{i:.6f}", "dec": "1.000000", "width": str(SIZE), "height": str(SIZE)} for i in range(n)}


def fetch(mirror, http, tmp_path, n, max_failed=0.5):  # noqa: F811
    images = tmp_path / "images"
    jobs = cutout_jobs(HttpClient(http), mirror.url + CUTOUT, queries(n), SPEC, images, ".jpg")
    return run_jobs(jobs, 4, max_failed, images, tmp_path / "manifest.csv", "x.max_failed_fraction", "test",
                    spec=SPEC)


def test_faults_are_retried_or_recorded_and_no_partial_file_remains(mirror, http, tmp_path):  # noqa: F811
    serve_cutouts(mirror)
    for i, fault in enumerate(["500", "503_html", "html_200", "timeout", "reset", "truncated",
                               "truncated_unannounced", "429"]):
        mirror.inject(CUTOUT, fault, match={"ra": f"{i:.6f}"})
    mirror.inject(CUTOUT, "404", match={"ra": "8.000000"})
    mirror.inject(CUTOUT, *["html_200"] * 4, match={"ra": "9.000000"})
    manifest = fetch(mirror, http, tmp_path, 12).set_index("id")
    assert (manifest.loc[[f"g{i}" for i in range(8)], "status"] == "ok").all()
    assert manifest.loc["g8", "reason"].startswith("HTTP 404")
    assert manifest.loc["g9", "reason"].startswith("an HTML page instead of an image")
    images = tmp_path / "images"
    assert sorted(p.name for p in images.iterdir()) == sorted(f"g{i}.jpg" for i in (*range(8), 10, 11))
    assert pd.read_csv(tmp_path / "manifest.csv")["status"].tolist() == manifest["status"].tolist()
    mirror.clear_log()  # failures are not remembered: a rerun asks again for them, and only them
    assert (fetch(mirror, http, tmp_path, 12)["status"] == "ok").all()
    assert sorted(r.query["ra"] for r in mirror.requests(CUTOUT)) == [f"{8:.6f}", f"{9:.6f}"]


def test_complete_files_are_never_fetched_again(mirror, http, tmp_path):  # noqa: F811
    serve_cutouts(mirror)
    fetch(mirror, http, tmp_path, 6)
    mirror.clear_log()
    (tmp_path / "images" / "g2.jpg").unlink()
    manifest = fetch(mirror, http, tmp_path, 6)
    assert [r.query["ra"] for r in mirror.requests(CUTOUT)] == [f"{2:.6f}"]
    assert (manifest["reason"] == ALREADY_COMPLETE).sum() == 5


def test_too_many_failures_fail_with_a_summary_and_leave_the_manifest(mirror, http, tmp_path):  # noqa: F811
    serve_cutouts(mirror)
    for i in range(3):
        mirror.inject(CUTOUT, "404", match={"ra": f"{i:.6f}"})
    with pytest.raises(TooManyFailures, match=r"3 of 10 files failed \(30.0% > x.max_failed_fraction = 20.0%\): "
                                              r"3 HTTP 404 Not Found; see .*manifest.csv"):
        fetch(mirror, http, tmp_path, 10, max_failed=0.2)
    assert (pd.read_csv(tmp_path / "manifest.csv")["status"] == "failed").sum() == 3


def test_failure_summary_groups_reasons():
    manifest = pd.DataFrame({"id": list("abcd"), "status": ["failed"] * 3 + ["ok"], "source": "",
                             "reason": ["timed out (gave up after 4 attempts)", "timed out (gave up after 2 attempts)",
                                        "size 10x10, expected 64x64", ""]})
    assert failure_summary(manifest) == "2 timed out, 1 size 10x10, expected 64x64"
    check_failures(manifest, 0.75, "p", Path(os.devnull))


KILLED_FETCH = """
import json, sys
from pathlib import Path
from pipeline.download.http import HttpClient
from pipeline.download.images import cutout_jobs, run_jobs
from pipeline.download.settings import HttpCfg
from pipeline.download.validate import ImageSpec
args = json.loads(sys.argv[1])
images = Path(args["dir"]) / "images"
spec = ImageSpec(args["size"], 0, "x")
jobs = cutout_jobs(HttpClient(HttpCfg(**args["http"])), args["url"], args["queries"], spec, images, ".jpg")
run_jobs(jobs, 2, 0.0, images, Path(args["dir"]) / "manifest.csv", "x", "killed", spec=spec)
"""


def test_a_killed_fetch_resumes_without_asking_again_for_complete_files(mirror, http, tmp_path):  # noqa: F811
    """A real process killed with SIGKILL half-way; the rerun asks only for what was missing."""
    serve_cutouts(mirror)
    mirror.latency_s = 0.05
    n = 40
    args = {"dir": str(tmp_path), "url": mirror.url + CUTOUT, "queries": queries(n), "size": SIZE,
            "http": {k: getattr(http, k) for k in http.__dataclass_fields__}}
    proc = subprocess.Popen([sys.executable, "-c", KILLED_FETCH, json.dumps(args)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    images = tmp_path / "images"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(images.glob("*.jpg"))) < n // 3:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    complete = {p.stem for p in images.glob("*.jpg")}
    assert n // 3 <= len(complete) < n, "the kill came too late to test anything"
    mirror.clear_log()
    mirror.latency_s = 0.0
    manifest = fetch(mirror, http, tmp_path, n)
    asked = {f"g{int(float(r.query['ra']))}" for r in mirror.requests(CUTOUT)}
    assert asked.isdisjoint(complete)
    assert asked == {f"g{i}" for i in range(n)} - complete
    assert (manifest["status"] == "ok").all()
    assert not list(images.glob(f"*{PARTIAL_MARKER}*"))


def test_an_unexpected_error_stops_the_fetch(tmp_path):
    """A bug or a full disk is not one file's failure: the fetch stops, queued files are dropped."""
    started = []

    def job(i: int) -> FetchJob:
        def get() -> bytes:
            started.append(i)
            if i == 0:
                raise RuntimeError("a bug")
            time.sleep(0.05)
            return b"x"

        return FetchJob(f"g{i}", tmp_path / f"g{i}.jpg", "", get)

    with pytest.raises(RuntimeError, match="a bug"):
        fetch_all([job(i) for i in range(50)], concurrency=2, desc="test")
    assert len(started) < 50


def test_each_transport_fault_is_one_files_manifest_row_never_a_traceback(mirror, http, tmp_path):  # noqa: F811
    """Issue 8: a trickle (the deadline), a body far above the cap, a gzip bomb, a redirect loop and
    an undecodable encoding each fail their file with a one-line reason; the others complete."""
    serve_cutouts(mirror)
    faults = {0: ("trickle", "deadline of 3 s exceeded"), 1: ("oversize", "larger than max_bytes"),
              2: ("oversize_unannounced", "larger than max_bytes"), 3: ("gzip_bomb", "larger than max_bytes"),
              4: ("redirect_loop", "redirect loop or too many redirects (TooManyRedirects"),
              5: ("bad_encoding", "the body does not decode as its Content-Encoding says (DecodeError")}
    for i, (fault, _) in faults.items():
        mirror.inject(CUTOUT, *[fault] * 4, match={"ra": f"{i:.6f}"})
    http = dataclasses.replace(http, retries=1, read_timeout_s=2 * TRICKLE_INTERVAL_S, max_bytes=2_000_000)
    manifest = fetch(mirror, http, tmp_path, 8, max_failed=1.0).set_index("id")
    for i, (_, reason) in faults.items():
        assert manifest.loc[f"g{i}", "status"] == "failed"
        assert manifest.loc[f"g{i}", "reason"].startswith(reason)
        assert "\n" not in manifest.loc[f"g{i}", "reason"]
    assert (manifest.loc[["g6", "g7"], "status"] == "ok").all()
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == ["g6.jpg", "g7.jpg"]


def test_ctrl_c_aborts_the_requests_in_flight_and_keeps_the_rows_completed(mirror, http, tmp_path):  # noqa: F811
    """In process: Ctrl-C while two cutouts trickle (a deadline far away) raises Interrupted with
    the completed rows, after the workers have stopped (their requests aborted, not waited for)."""
    serve_cutouts(mirror)
    for i in (4, 5):
        mirror.inject(CUTOUT, "trickle", match={"ra": f"{i:.6f}"})
    http = dataclasses.replace(http, deadline_s=600.0, read_timeout_s=4 * TRICKLE_INTERVAL_S)
    jobs = cutout_jobs(HttpClient(http), mirror.url + CUTOUT, queries(6), SPEC, tmp_path, ".jpg")

    def ctrl_c_once_stalled() -> None:
        while len(mirror.requests(CUTOUT)) < 6:
            time.sleep(0.02)
        time.sleep(2 * TRICKLE_INTERVAL_S)
        os.kill(os.getpid(), signal.SIGINT)  # a real signal: it wakes the main thread's wait

    threading.Thread(target=ctrl_c_once_stalled, daemon=True).start()
    with pytest.raises(Interrupted, match="4 of 6 files done") as caught:
        fetch_all(jobs, concurrency=2, desc="test")
    assert caught.value.manifest["id"].tolist() == [f"g{i}" for i in range(4)]
    assert (caught.value.manifest["status"] == "ok").all()
    assert not [t for t in threading.enumerate() if t.name.startswith("fetch")]  # none left blocked
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"g{i}.jpg" for i in range(4)]
    assert fetch_all(jobs[:1], concurrency=1, desc="test")["status"].tolist() == ["ok"]  # usable again


def test_a_worker_still_busy_after_ctrl_c_writes_nothing(tmp_path):
    """A fetch that ignores the cancel (a connect only its timeout ends) and returns after the
    grace period: its file is not written (the stage may be exiting under it)."""
    returned = threading.Event()

    def slow() -> bytes:
        time.sleep(CANCEL_GRACE_S + 1)  # deaf to cancel_all
        returned.set()
        return b"late"

    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
    with pytest.raises(Interrupted, match="0 of 1 files done"):
        fetch_all([FetchJob("late", tmp_path / "late.jpg", "", slow)], concurrency=1, desc="test")
    assert returned.wait(CANCEL_GRACE_S + 5)
    time.sleep(0.2)  # the worker's next step would be the write
    assert list(tmp_path.iterdir()) == []
