"""Running a real stage (``python -m stages.<stage> <survey>``) in a folder of its own, with the
repository's params except one survey's source block (pointed at the loopback mirror)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from pipeline.config import read_params
from tests.mirror.fixtures import ROOT


def write_params(folder: Path, name: str, source: dict) -> None:
    """``folder/params.yaml``: the repository's params with ``source`` as survey ``name``'s source,
    and what the stages read besides params (the shared stage's files)."""
    params = read_params(ROOT / "params.yaml")
    source["images"].get("fetch", {}).setdefault("max_trailing_bytes", 64)
    params["survey"][name]["source"] = source
    (folder / "params.yaml").write_text(yaml.safe_dump(params))
    subprocess.run(stage_command("shared", name), cwd=folder, env=stage_env(), check=True, capture_output=True)


def stage_command(stage: str, name: str) -> list[str]:
    return [sys.executable, "-m", f"stages.{stage}", name, "--params", "params.yaml"]


def stage_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def run_stage(folder: Path, stage: str, name: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(stage_command(stage, name), cwd=folder, env=stage_env(), capture_output=True,
                          text=True, timeout=timeout)


def last_line(stderr: str) -> str:
    """The last line written to stderr (after a progress bar's carriage returns)."""
    return stderr.strip().splitlines()[-1].split("\r")[-1] if stderr.strip() else ""
