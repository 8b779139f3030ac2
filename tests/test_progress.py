"""Progress bars: tqdm's own on a terminal, a few lines in a log (CI, ``dvc repro > log``)."""
from __future__ import annotations

import io
import os
import re
import time

from pipeline.download.fetch import FetchJob, fetch_all
from pipeline.progress import progress

SECONDS = 1.2  # tqdm's own bar redraws every 0.1 s: about 12 times in this long


def redraws(text: str) -> list[str]:
    """The states of the bar as a log shows them: a CI log starts a new line at every ``\\r``."""
    return [line for line in re.split(r"[\r\n]", text) if line.strip()]


def test_a_fetch_logs_its_bar_in_a_few_lines(tmp_path, capsys):
    def job(i: int) -> FetchJob:
        def fetch() -> bytes:
            time.sleep(SECONDS / 30)
            return b"x"

        return FetchJob(str(i), tmp_path / f"{i}.bin", "", fetch)

    manifest = fetch_all([job(i) for i in range(30)], 1, "test fetch")  # stderr is captured: no terminal
    assert (manifest["status"] == "ok").all()
    lines = redraws(capsys.readouterr().err)
    assert len(lines) <= 2 and lines[-1].startswith("test fetch: 100%"), lines  # opening and closing states


def test_inner_bars_are_not_drawn_in_a_log():
    log = io.StringIO()
    assert list(progress(range(5), inner=True, file=log)) == list(range(5))
    assert log.getvalue() == ""


def test_a_terminal_keeps_the_live_bar():
    controller, terminal = os.openpty()
    with open(terminal, "w") as tty:
        for _ in progress(range(12), file=tty, desc="live"):
            time.sleep(SECONDS / 12)
    shown = os.read(controller, 1 << 16).decode()
    os.close(controller)
    assert len([line for line in redraws(shown) if line.startswith("live")]) >= 5
