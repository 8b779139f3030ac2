"""Ctrl-C (SIGINT) during a stalled request ends the real stage within seconds (issue 8): one
line, exit code 130, no partial file, and for a fetch the manifest of the files completed."""
from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pandas as pd

from pipeline.download.http import PARTIAL_MARKER
from tests.download.stage_run import last_line, stage_command, stage_env, write_params
from tests.mirror.faults import TRICKLE_INTERVAL_S
from tests.mirror.fixtures import mirror, selected_of, source_of, surveys  # noqa: F401 - pytest fixtures
from tests.mirror.skyserver import cutout_path
from tests.mirror.surveys import DECALS_CATALOGUE, fast_http

EXIT_WITHIN_S = 5.0
#: A deadline far beyond the test: only Ctrl-C can end the stalled requests.
STALLED_HTTP = fast_http(deadline_s=600.0, read_timeout_s=4 * TRICKLE_INTERVAL_S, retries=0)


def interrupt(folder: Path, stage: str, name: str, started) -> subprocess.CompletedProcess:
    """Run ``python -m stages.<stage> <name>`` in ``folder``; SIGINT once ``started()``."""
    proc = subprocess.Popen(stage_command(stage, name), cwd=folder, env=stage_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    limit = time.monotonic() + 60
    while not started() and time.monotonic() < limit and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    time.sleep(2 * TRICKLE_INTERVAL_S)  # well inside the stalled read
    proc.send_signal(signal.SIGINT)
    sent = time.monotonic()
    try:
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert time.monotonic() - sent < EXIT_WITHIN_S
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def assert_one_line(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 130, result.stderr
    assert "Traceback" not in result.stderr
    assert last_line(result.stderr).startswith("interrupted: "), result.stderr


def partials(folder: Path) -> list[Path]:
    return list(folder.rglob(f"*{PARTIAL_MARKER}*"))


def test_ctrl_c_during_a_trickled_catalogue_ends_the_stage_leaving_nothing(surveys, tmp_path):  # noqa: F811
    mirror = surveys.mirror
    mirror.inject(DECALS_CATALOGUE, "trickle")
    write_params(tmp_path, "decals", surveys.source_params(http=STALLED_HTTP)["decals"])
    result = interrupt(tmp_path, "catalogue", "decals", lambda: mirror.requests(DECALS_CATALOGUE))
    assert_one_line(result)
    assert last_line(result.stderr) == "interrupted: gz_decals_volunteers_5.csv: download stopped, nothing of it kept"
    assert partials(tmp_path) == []
    assert not (tmp_path / "data" / "catalogue" / "decals" / "catalogue.parquet").exists()


def test_ctrl_c_during_stalled_cutouts_ends_the_stage_with_the_manifest_of_the_rest(surveys, tmp_path):  # noqa: F811
    """Two cutouts trickle while the others complete: SIGINT ends the stage at once, the complete
    images stay with their manifest rows, the stalled ones leave no trace."""
    mirror = surveys.mirror
    block = surveys.source_params(http=STALLED_HTTP)["sdss"]
    block["images"]["fetch"]["concurrency"] = 2
    (tmp_path / "cat").mkdir()
    selected = selected_of("sdss", block, source_of("sdss", block).fetch_catalogue(tmp_path / "cat"))
    stalled = selected.tail(2)
    for row in stalled.itertuples():
        mirror.inject(cutout_path(17), "trickle", match={"ra": f"{row.ra:.6f}"})
    select_file = tmp_path / "data" / "select" / "sdss.parquet"
    select_file.parent.mkdir(parents=True)
    selected.to_parquet(select_file)
    write_params(tmp_path, "sdss", block)
    cutouts = cutout_path(17)
    result = interrupt(tmp_path, "images", "sdss", lambda: len(mirror.requests(cutouts)) >= len(selected))
    assert_one_line(result)
    assert f"with {len(selected) - 2} of {len(selected)} files done" in last_line(result.stderr)
    images = tmp_path / "data" / "images" / "sdss"
    assert partials(tmp_path) == []
    manifest = pd.read_csv(images / "manifest.csv", dtype={"id": str})
    done = set(manifest.loc[manifest["status"] == "ok", "id"])
    assert done == set(selected["id"].astype(str)) - set(stalled["id"].astype(str))
    assert {p.stem for p in (images / "images").glob("*.jpg")} == done
