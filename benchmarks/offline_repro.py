"""Wall time and peak memory of the offline pipeline (`dvc repro` on a fresh clone).

Clones the committed repository into a temporary folder, runs `dvc repro` there with this
interpreter's environment, samples the summed RSS of the whole process tree (DVC, the stage,
its render workers) every 0.2 s, and prints the wall time, the peak, and each stage's time.

    python benchmarks/offline_repro.py [--keep DIR]
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", type=Path, help="clone here and keep it (default: a temporary folder)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="offline-repro-"))
    subprocess.run(["git", "clone", "-q", str(ROOT), str(work)], check=True)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "dvc", "repro"], cwd=work, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    starts: list[tuple[str, float]] = []

    def read_output() -> None:  # a thread: the main loop must keep sampling memory
        for line in proc.stdout:
            m = re.search(r"Running stage '([^']+)'", line)
            if m:
                starts.append((m.group(1), time.perf_counter() - start))

    reader = threading.Thread(target=read_output, daemon=True)
    reader.start()
    watcher = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss(watcher))
        time.sleep(0.2)
    wall = time.perf_counter() - start
    reader.join()
    ends = [t for _, t in starts[1:]] + [wall]
    stages = [(name, end - t) for (name, t), end in zip(starts, ends)]
    if proc.returncode:
        sys.exit(f"dvc repro failed with exit code {proc.returncode} in {work}")
    for name, seconds in stages:
        print(f"  {name:<36} {seconds:7.1f} s")
    print(f"dvc repro wall time: {wall:.0f} s ({wall / 60:.1f} min); peak memory of the process tree: "
          f"{peak / 2**30:.2f} GiB; {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
