"""One training epoch over a prepared array much larger than host memory's chunk budget (issue 11).

Writes a synthetic prepared folder (pipeline/prepare.py's format: a memory-mappable
``images.npy``, ``index.parquet``, ``stats.json``) of ``--gib`` GiB, every image in the train
split (so the epoch reads the whole array and validation is skipped), then runs
:func:`pipeline.train.train` for one epoch in a child process, once per ``--chunk-images`` (the
``io.chunk_images`` budget): by default 2048 images and four times that, ratios in one run.
Training is survey sim_gz2's (the demo model, batch 128) on 2 threads.  The child samples its
own ``/proc/self/status`` every 20 ms.

The geometry is chosen for a quick epoch over many bytes: 128 px stored images (48 KiB each) and
16 px views (a random 16 px window of the stored image), so 1.5 GiB is 32,768 images, an epoch
takes a minute or two on 2 idle CPU cores (several on a busy machine: the times in the JSON are
not the point), and one chunk of 2048 images (96 MiB) stands out clearly against the memory of a
training step.

What is bounded, and what is not.  A process's RSS has two parts: ``RssAnon``, memory the
process allocated (the chunks, the model, the activations), and ``RssFile``, pages of files it
has mapped.  :mod:`pipeline.chunks` reads rows out of the memory-mapped ``images.npy``; every
page read stays mapped, and counted in ``RssFile``, until the kernel reclaims it under memory
pressure (file-backed and clean: dropped, never swapped).  So ``RssFile`` grows towards the
array's size as the epoch proceeds, while ``RssAnon`` is the figure the chunk budget bounds:
above the baseline measured just before ``train()`` (imports, the index) it grows by a fixed
part (model, optimizer, a step's activations) plus a few chunk-sized buffers, whatever the
array's size, and it moves with the chunk size.  ``anon_mib_per_chunk_mib``, the slope of that
growth against the chunk size between the runs, counts the buffers alive at the peak: four
measured (the chunk in use, the prefetched one in the queue, the next one being gathered, and
the temporary copy ``images[rows[ascending]]`` that ``chunks.gather`` makes before it reorders).
The JSON holds the anonymous and the file-backed figures, and ``VmHWM`` (peak total RSS).

    python benchmarks/prepared_scale.py [--gib 1.5] [--chunk-images 2048 8192] [--stored 128] [--input-size 16]

Writes benchmarks/results/prepared_scale.json; the temporary folder is removed at the end.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline import prepare  # noqa: E402
from pipeline.config import parse  # noqa: E402
from pipeline.params import Image, load_params  # noqa: E402
from pipeline.train import Setup, train  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
SURVEY = "sim_gz2"  # its train block: the demo model and augmentations, batch 128
STATUS_KEYS = ("VmHWM", "VmRSS", "RssAnon", "RssFile")
MIB = 2**20


def write_prepared(folder: Path, n: int, stored: int, seed: int = 0) -> None:
    """A prepared survey of ``n`` random images, all in the train split, written block by block."""
    folder.mkdir(parents=True)
    images = np.lib.format.open_memmap(folder / prepare.IMAGES_FILE, mode="w+", dtype=np.uint8,
                                       shape=(n, stored, stored, 3))
    rng = np.random.default_rng(seed)
    for start in range(0, n, 8192):  # bounded memory while writing, too
        stop = min(n, start + 8192)
        images[start:stop] = rng.integers(0, 256, (stop - start, stored, stored, 3), dtype=np.uint8)
    images.flush()
    del images
    labels = np.arange(n) % 2
    pd.DataFrame({"row": np.arange(n), "id": np.arange(n).astype(str), "label": labels.astype(str),
                  "label_id": labels, "split": "train"}).to_parquet(folder / prepare.INDEX_FILE, index=False)
    (folder / prepare.STATS_FILE).write_text(json.dumps({"mean": [0.5] * 3, "std": [0.29] * 3}))


def status_kib() -> dict[str, int]:
    """This process's memory figures from /proc/self/status, in KiB."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in STATUS_KEYS:
            out[key] = int(value.split()[0])
    return out


def setup(stored: int, input_size: int) -> Setup:
    """The sim_gz2 survey's training (demo model, batch 128), one epoch, at this geometry."""
    params = load_params(ROOT / "params.yaml")
    survey = params.survey[SURVEY]
    image = parse(Image, {"native_size": stored, "centre_crop": stored, "crop": input_size, "input_size": input_size,
                          "max_corrupt_fraction": 0.0}, "image")
    train_cfg = parse(type(survey.train), {**vars(survey.train), "epochs": 1, "threads": 2}, f"survey.{SURVEY}.train")
    return Setup(train=train_cfg, model=params.models[survey.train.model], augment=params.augment[survey.train.augment],
                 image=image, evaluate=params.evaluate, classes=["0", "1"], seed=params.seed)


def child(folder: Path, checkpoint: Path, chunk_images: int, stored: int, input_size: int) -> None:
    """One epoch of train() over ``folder``; prints its memory figures as one JSON line.
    ``checkpoint`` must not exist: a finished one would be resumed, and nothing trained."""
    torch.set_num_threads(2)
    prepared = prepare.load(folder)  # memory-mapped: nothing read yet
    cfg = setup(stored, input_size)
    peak = status_kib()
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            for key, value in status_kib().items():
                peak[key] = max(peak[key], value)

    baseline = status_kib()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    train(prepared, cfg, checkpoint, lambda row: None, torch.device("cpu"), chunk_images=chunk_images)
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    end = status_kib()
    print(json.dumps({"baseline_kib": baseline, "peak_kib": {**peak, "VmHWM": end["VmHWM"]}, "seconds": seconds}))


def run_child(folder: Path, checkpoint: Path, chunk_images: int, stored: int, input_size: int) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(folder), "--checkpoint", str(checkpoint),
           "--chunk-images", str(chunk_images), "--stored", str(stored), "--input-size", str(input_size)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"training child failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summary(figures: dict, chunk_images: int, image_bytes: int, n: int) -> dict:
    base, peak = figures["baseline_kib"], figures["peak_kib"]
    chunk_mib = chunk_images * image_bytes / MIB
    anon_growth = (peak["RssAnon"] - base["RssAnon"]) / 1024
    return {"chunk_images": chunk_images, "chunk_mib": round(chunk_mib, 1),
            "baseline_anon_mib": round(base["RssAnon"] / 1024, 1),
            "peak_anon_mib": round(peak["RssAnon"] / 1024, 1),
            "anon_growth_mib": round(anon_growth, 1),
            "anon_growth_in_chunks": round(anon_growth / chunk_mib, 2),
            "baseline_file_mib": round(base["RssFile"] / 1024, 1),
            "peak_file_mib": round(peak["RssFile"] / 1024, 1),
            "file_growth_mib": round((peak["RssFile"] - base["RssFile"]) / 1024, 1),
            "peak_rss_mib": round(peak["VmHWM"] / 1024, 1),
            "epoch_s": round(figures["seconds"], 1),
            "images_per_s": round(n / figures["seconds"], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gib", type=float, default=1.5, help="size of the synthetic prepared array")
    parser.add_argument("--chunk-images", type=int, nargs="+", default=[2048, 8192])
    parser.add_argument("--stored", type=int, default=128, help="side of a stored image")
    parser.add_argument("--input-size", type=int, default=16, help="side of the augmented views")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)  # the training process
    parser.add_argument("--checkpoint", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULTS / "prepared_scale.json")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.checkpoint, args.chunk_images[0], args.stored, args.input_size)
        return

    image_bytes = args.stored * args.stored * 3
    n = int(args.gib * 2**30 // image_bytes)
    work = Path(tempfile.mkdtemp(prefix="prepared-scale-"))
    try:
        write_prepared(work / "prepared", n, args.stored)
        runs = []
        for chunk_images in args.chunk_images:
            checkpoint = work / f"checkpoint-{chunk_images}.pt"
            runs.append(summary(run_child(work / "prepared", checkpoint, chunk_images, args.stored, args.input_size),
                                chunk_images, image_bytes, n))
            print(json.dumps(runs[-1]), flush=True)
    finally:
        shutil.rmtree(work)
    array_mib = n * image_bytes / MIB
    result = {"images": n, "stored_size": args.stored, "input_size": args.input_size, "array_mib": round(array_mib, 1),
              "survey_train_block": SURVEY, "threads": 2, "runs": runs,
              "array_over_chunk": [round(array_mib / r["chunk_mib"], 1) for r in runs]}
    if len(runs) > 1:
        first, last = runs[0], runs[-1]
        result.update(chunk_ratio=round(last["chunk_mib"] / first["chunk_mib"], 2),
                      anon_growth_ratio=round(last["anon_growth_mib"] / first["anon_growth_mib"], 2),
                      # the slope: how many chunk-sized buffers are resident, whatever the array's size
                      anon_mib_per_chunk_mib=round((last["anon_growth_mib"] - first["anon_growth_mib"])
                                                   / (last["chunk_mib"] - first["chunk_mib"]), 2))
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
