"""run_jobs' part of issue 8: the manifest written on Ctrl-C carries checksums, refused ids are
rows of every job builder, and the trailing-bytes cap is a checked param."""
from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from pipeline.config import ConfigError, parse
from pipeline.download.errors import Interrupted
from pipeline.download.fetch import FetchJob
from pipeline.download.http import HttpClient
from pipeline.download.images import ArchiveMembers, Refused, archive_jobs, cutout_jobs, missing_jobs, run_jobs
from pipeline.download.settings import FetchCfg
from pipeline.download.validate import ImageSpec
from tests.mirror.drawings import galaxy_image
from tests.mirror.fixtures import http  # noqa: F401 - pytest fixture
from tests.mirror.surveys import fast_http

SIZE = 32
SPEC = ImageSpec(SIZE, 0, "x.max_trailing_bytes")


def test_ctrl_c_leaves_the_manifest_of_the_files_completed_with_their_checksums(tmp_path):
    """A fetch stopped by Ctrl-C (here raised by the third file, one at a time): the manifest of
    what completed is written, checksums included, and the interruption goes on."""
    images = tmp_path / "images"

    def job(i: int) -> FetchJob:
        def fetch() -> bytes:
            if i == 2:
                raise KeyboardInterrupt
            return galaxy_image("round", SIZE, i)

        return FetchJob(f"g{i}", images / f"g{i}.jpg", "", fetch)

    with pytest.raises(Interrupted):
        run_jobs([job(i) for i in range(5)], 1, 0.0, images, tmp_path / "manifest.csv", "x", "test", spec=SPEC)
    manifest = pd.read_csv(tmp_path / "manifest.csv")
    # Which files beside g0 completed before the interruption reached the main thread varies.
    assert manifest["id"].iloc[0] == "g0" and "g2" not in manifest["id"].tolist()
    assert (manifest["status"] == "ok").all()
    for row in manifest.itertuples():
        data = (images / f"{row.id}.jpg").read_bytes()
        assert (row.bytes, row.sha256) == (len(data), hashlib.sha256(data).hexdigest())


def test_every_job_builder_refuses_an_id_that_is_not_a_plain_file_name(http, tmp_path):  # noqa: F811
    images = tmp_path / "images"
    unsafe = ["a/b", "..", ".", "", "c\\d", "e\x00"]
    built = [
        *cutout_jobs(HttpClient(http), "http://127.0.0.1:9/cutout", {i: {"ra": "1"} for i in unsafe}, SPEC,
                     images, ".jpg"),
        *missing_jobs({i: "no radius" for i in unsafe}, images, ".jpg"),
        *archive_jobs(ArchiveMembers([]), {i: f"{i}.png" for i in unsafe}, SPEC, images, ".png"),
    ]
    assert all(isinstance(job, Refused) for job in built)
    assert [job.reason for job in built[:len(unsafe)]] == [f"id is not a plain file name: {i!r}" for i in unsafe]
    safe = cutout_jobs(HttpClient(http), "http://127.0.0.1:9/cutout", {"a.b..c": {"ra": "1"}}, SPEC, images, ".jpg")
    assert isinstance(safe[0], FetchJob) and safe[0].dest == images / "a.b..c.jpg"


def test_refused_rows_keep_the_order_of_the_jobs(tmp_path):
    images = tmp_path / "images"
    refused = Refused("a/b", "id is not a plain file name: 'a/b'", "")
    jobs = [*missing_jobs({"g0": "no radius"}, images, ".jpg"), refused,
            *missing_jobs({"g1": "no radius"}, images, ".jpg")]
    manifest = run_jobs(jobs, 2, 1.0, images, tmp_path / "manifest.csv", "x", "test", spec=SPEC)
    assert manifest["id"].tolist() == ["g0", "a/b", "g1"]
    assert manifest["reason"].tolist() == ["no radius", "id is not a plain file name: 'a/b'", "no radius"]


@pytest.mark.parametrize("value, message", [
    (-1, r"^x.max_trailing_bytes: -1 must be >= 0$"),
    (1.5, r"^x.max_trailing_bytes: expected an integer, got 1.5$"),
])
def test_the_trailing_bytes_cap_is_checked(value, message):
    block = {"concurrency": 2, "max_failed_fraction": 0.1, "max_trailing_bytes": value, "http": fast_http()}
    with pytest.raises(ConfigError, match=message):
        parse(FetchCfg, block, "x")
    block.pop("max_trailing_bytes")
    with pytest.raises(ConfigError, match=r"^x.max_trailing_bytes: missing key$"):
        parse(FetchCfg, block, "x")
