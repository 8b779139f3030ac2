"""Transport faults through the real stages and sources (issue 8): each run ends in a complete,
verified result or a one-line error naming the file, never a traceback, a hang or wrong data."""
from __future__ import annotations

import time

import pandas as pd
import pytest

from pipeline.download.errors import DownloadError
from pipeline.download.http import PARTIAL_MARKER
from pipeline.surveys import schemas
from tests.download.stage_run import last_line, run_stage, write_params
from tests.mirror.faults import TRICKLE_INTERVAL_S, bomb
from tests.mirror.fixtures import mirror, selected_of, source_of, surveys  # noqa: F401 - pytest fixtures
from tests.mirror.skyserver import cutout_path, sql_path
from tests.mirror.surveys import DECALS_CATALOGUE, GZ2_CATALOGUE, fast_http

#: Only the deadline ends a trickle: the read timeout is above its interval.
PATIENT = fast_http(read_timeout_s=2 * TRICKLE_INTERVAL_S, retries=1)


def test_a_trickled_catalogue_ends_the_stage_at_the_deadline_with_one_line(surveys, tmp_path):  # noqa: F811
    surveys.mirror.inject(DECALS_CATALOGUE, "trickle", "trickle")
    write_params(tmp_path, "decals", surveys.source_params(http=PATIENT)["decals"])
    start = time.monotonic()
    result = run_stage(tmp_path, "catalogue", "decals")
    attempts = PATIENT["retries"] + 1
    assert time.monotonic() - start < attempts * PATIENT["deadline_s"] + 10  # imports included
    assert result.returncode == 2 and "Traceback" not in result.stderr
    line = last_line(result.stderr)
    assert line.startswith("error: gz_decals_volunteers_5.csv: deadline of 3 s exceeded (")
    assert line.endswith(f"bytes received) (gave up after {attempts} attempts)")
    assert not list(tmp_path.rglob(f"*{PARTIAL_MARKER}*"))
    assert not list(tmp_path.rglob("catalogue.parquet"))


def test_sql_pages_cut_short_still_give_the_whole_catalogue_through_the_stage(surveys, tmp_path):  # noqa: F811
    """Page 1 cut mid-row, page 2 cut at a row's end (a short page that is not the last), both
    without Content-Length; page 3 trickled: the stage ends with every row, each once."""
    surveys.mirror.inject(sql_path(17), "truncated_unannounced", "truncated_rows", "trickle")
    write_params(tmp_path, "sdss", surveys.source_params(http=PATIENT)["sdss"])
    result = run_stage(tmp_path, "catalogue", "sdss")
    assert result.returncode == 0, result.stderr
    table = pd.read_parquet(tmp_path / "data" / "catalogue" / "sdss" / "catalogue.parquet")
    expected = surveys.sdss.table.sort_values(schemas.ZOONOSPEC_ID, ignore_index=True)
    assert table[schemas.ZOONOSPEC_ID].tolist() == expected[schemas.ZOONOSPEC_ID].tolist()
    pd.testing.assert_series_equal(table["p_el"], expected["p_el"], check_names=False)


@pytest.mark.parametrize("name, path", [("decals", DECALS_CATALOGUE), ("gz2", GZ2_CATALOGUE)])
def test_a_catalogue_cut_short_without_content_length_is_fetched_again(surveys, tmp_path, name, path):  # noqa: F811
    surveys.mirror.inject(path, "truncated_unannounced")
    table = source_of(name, surveys.source_params()[name]).fetch_catalogue(tmp_path)
    assert len(table) == len(getattr(surveys, name).table)
    assert len(surveys.mirror.requests(path)) == 2


@pytest.mark.parametrize("fault, reason", [
    ("oversize", "larger than max_bytes = 2000000 (Content-Length 1073741824)"),
    ("oversize_unannounced", "larger than max_bytes = 2000000 (stopped after"),
    ("gzip_bomb", "larger than max_bytes = 2000000 (stopped after"),
    ("redirect_loop", "redirect loop or too many redirects (TooManyRedirects: Exceeded 30 redirects.)"),
    ("bad_encoding", "the body does not decode as its Content-Encoding says (DecodeError:"),
])
def test_a_catalogue_fault_is_one_line_naming_the_file(surveys, tmp_path, fault, reason):  # noqa: F811
    bomb()
    surveys.mirror.inject(GZ2_CATALOGUE, fault)
    block = surveys.source_params(http=fast_http(max_bytes=2_000_000))["gz2"]
    with pytest.raises(DownloadError) as caught:
        source_of("gz2", block).fetch_catalogue(tmp_path)
    assert str(caught.value).startswith(f"gz2_hart16.csv.gz: {reason}")
    assert "\n" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_cutout_faults_are_retried_or_recorded_by_the_images_source(surveys, tmp_path):  # noqa: F811
    """Through the SDSS source as the images stage calls it: a cutout cut short without
    Content-Length and a trickled one are fetched again; a redirect loop is that file's row."""
    block = surveys.source_params(http=PATIENT)["sdss"]
    block["images"]["fetch"]["max_failed_fraction"] = 0.5
    block["images"]["fetch"].setdefault("max_trailing_bytes", 64)
    source = source_of("sdss", block)
    selected = selected_of("sdss", block, source.fetch_catalogue(tmp_path))
    rows = list(selected.itertuples())
    for row, faults in zip(rows, [["truncated_unannounced"], ["trickle"], ["redirect_loop"] * 2]):
        surveys.mirror.inject(cutout_path(17), *faults, match={"ra": f"{row.ra:.6f}"})
    manifest = source.fetch_images(selected, tmp_path, tmp_path / "out").set_index("id")
    assert (manifest.loc[[str(rows[0].id), str(rows[1].id)], "status"] == "ok").all()
    assert manifest.loc[str(rows[2].id), "reason"].startswith("redirect loop or too many redirects")
    assert (manifest.drop(index=str(rows[2].id))["status"] == "ok").all()
