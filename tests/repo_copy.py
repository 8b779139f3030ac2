"""A throw-away copy of the repository in which DVC runs for real."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from pipeline import params_reads

ROOT = Path(__file__).resolve().parents[1]


def _repo_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         check=True, capture_output=True, text=True).stdout.split("\n")
    return [f for f in out if f and not f.startswith(("metrics/", "dvc.lock")) and (ROOT / f).is_file()]


class RepoCopy:
    """A git + DVC working copy of this repository under ``path``; commands run with our venv."""

    def __init__(self, path: Path):
        self.path = path
        for rel in _repo_files():
            dst = path / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dst)
        #: Each stage run here writes the params keys it read to this folder (pipeline/params_reads.py).
        self.reads_dir = path.parent / f"{path.name}.params-reads"
        self.env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
                    params_reads.ENV: str(self.reads_dir)}
        for cmd in (["git", "init", "-q"], ["git", "add", "-A"],
                    ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy"]):
            subprocess.run(cmd, cwd=path, check=True, env=self.env)

    def params(self) -> dict:
        return yaml.safe_load((self.path / "params.yaml").read_text())

    def write_params(self, data: dict) -> None:
        (self.path / "params.yaml").write_text(yaml.safe_dump(data, sort_keys=False))

    def commit(self, message: str = "params") -> None:
        subprocess.run(["git", "add", "-A"], cwd=self.path, check=True, env=self.env)
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message],
                       cwd=self.path, check=True, env=self.env)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(list(args), cwd=self.path, env=self.env, capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def dvc(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run(sys.executable, "-m", "dvc", *args, check=check)


def tiny(params: dict, surveys: list[str], *, n_galaxies: int = 200, epochs: int = 2) -> dict:
    """Shrink params to a few dozen galaxies and a tiny training run: seconds per stage."""
    params["surveys"] = surveys
    params["evaluate"].update(ks=[1, 3], k=3, batch_size=64)
    params["cross"]["k"] = 3
    for block in ("ablation", "label_efficiency"):  # opt-in analyses: on the last survey, tiny
        params[block]["surveys"] = surveys[-1:]
    params["label_efficiency"].update(sizes=[6, 12, 24], k=3)
    params["label_efficiency"]["supervised"].update(epochs=2, min_steps=2, batch_size=8)
    params["morphology"]["n_workers"] = 1
    params["cluster"].update(grid_galaxies=3, grid_max_clusters=4)
    for name in surveys:
        shrink_survey(params, name, n_galaxies=n_galaxies, epochs=epochs)
    return params


def shrink_survey(params: dict, name: str, *, n_galaxies: int = 200, epochs: int = 2) -> None:
    """One simulated survey's block at tiny size (what ``tiny`` does for each survey)."""
    s = params["survey"][name]
    s["source"]["n_galaxies"] = n_galaxies
    s["source"]["n_workers"] = 1
    s["train"].update(epochs=epochs, batch_size=16, threads=1)
    # two epochs leave the ~10 test galaxies' embeddings close together: merges at 0.006-0.33
    s["cluster"]["threshold"] = 0.05
