"""Contrastive training throughput at the paper's configuration, three loops in one run (issue 11).

At the configuration of survey ``gz2`` (paper Sect. 4.1: the ``paper`` encoder and augmentations,
84 px views of the stored image, SGD at batch 256), on synthetic uint8 images of the stored size:

- new loop: :func:`pipeline.epoch.run_epoch` with the optimizer as :func:`pipeline.train.train`
  builds it (fused SGD on CUDA, channels-last, bf16 autocast on CUDA, ``torch.compile`` with
  ``--compile`` or ``train.compile``), images read in host chunks (``io.chunk_images``);
- today's loop: a replica of the loop of commit 210ef9a (``git show 210ef9a:pipeline/train.py``):
  the whole array on the device, plain SGD, one ``loss.item()`` host sync per step (its progress
  bar's formatting is left out).  It also held the whole train split on the device, which the
  synthetic few batches here do not show;
- seed-style: torchvision's per-sample PIL transforms (benchmarks/augment_throughput.py) in
  DataLoader workers, two views per image, feeding the same model, loss, autocast and plain SGD
  with a ``loss.item()`` per step.  Images come from memory (no JPEG decoding), so this is
  the seed pipeline's best case.  Skipped, with a note, where torchvision is not installed.

Pairs/s is counted over a timed window after warm-up steps (the device synchronised at both
ends); an instrumented pass of each loop, synchronised between phases, splits a step into data
(chunk read and copy, or the device gather), augmentation, forward (encoder + NT-Xent) and
backward + optimizer step.  Peak memory is the device's allocator peak per loop on CUDA, the
process's peak RSS on a CPU.

The paper's configuration is read from params.yaml where PyYAML is installed, and then also
written to benchmarks/results/paper_config.json; on a machine without PyYAML (a bare GPU box
with torch, numpy and einops) that snapshot is read instead.  Results merge into
benchmarks/results/train_throughput.json under the device kind (``cpu``, ``cuda:<name>``),
and a copy goes to ``$OUT`` when that is set.

    python benchmarks/train_throughput.py --device cuda          # ~2-3 min on an H200-class GPU
    python benchmarks/train_throughput.py --device cpu           # batch 32, 1 + 3 steps: minutes

On a CPU the defaults shrink to batch 32 and 1 warm-up + 3 timed steps (the paper encoder
trains at a few pairs/s there); every figure's configuration is in the JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline import augment  # noqa: E402
from pipeline.chunks import chunk_length, read_chunks  # noqa: E402
from pipeline.config import parse, read_params  # noqa: E402
from pipeline.distributed import Rank  # noqa: E402
from pipeline.epoch import StepConfig, contrastive_loss, run_epoch  # noqa: E402
from pipeline.loss import nt_xent  # noqa: E402
from pipeline.model import build_encoder  # noqa: E402
from pipeline.params import Augment, Image, Io, Model, Train  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
SNAPSHOT = RESULTS / "paper_config.json"
SURVEY = "gz2"  # its train block is the paper's configuration
PHASES = ("data", "augment", "forward", "backward_step")
SEED = 0


@dataclass(frozen=True)
class Paper:
    image: Image
    train: Train
    model: Model
    augment: Augment
    io: Io
    source: str  # params.yaml or the snapshot


def paper_config() -> Paper:
    """Survey ``gz2``'s blocks from params.yaml (refreshing the snapshot), else from the snapshot."""
    try:
        raw = read_params(ROOT / "params.yaml")
    except ImportError:  # no PyYAML on this machine
        blocks, source = json.loads(SNAPSHOT.read_text()), str(SNAPSHOT.relative_to(ROOT))
    else:
        train = raw["survey"][SURVEY]["train"]
        blocks = {"image": raw["survey"][SURVEY]["image"], "train": train, "model": raw["models"][train["model"]],
                  "augment": raw["augment"][train["augment"]], "io": raw["io"]}
        SNAPSHOT.write_text(json.dumps(blocks, indent=1) + "\n")
        source = "params.yaml"
    train = parse(Train, blocks["train"], f"survey.{SURVEY}.train")
    return Paper(image=parse(Image, blocks["image"], f"survey.{SURVEY}.image"), train=train,
                 model=parse(Model, blocks["model"], f"models.{train.model}"),
                 augment=parse(Augment, blocks["augment"], f"augment.{train.augment}"),
                 io=parse(Io, blocks["io"], "io"), source=source)


def now(device: torch.device) -> float:
    """Wall time once the device has finished what was queued."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


class Laps:
    """Seconds per phase, each lap ending when the device is idle (the instrumented passes)."""

    def __init__(self, device: torch.device):
        self.device = device
        self.seconds = dict.fromkeys(PHASES, 0.0)
        self.mark = now(device)

    def __call__(self, phase: str) -> None:
        t = now(self.device)
        self.seconds[phase] += t - self.mark
        self.mark = t

    def summary(self, steps: int) -> dict[str, dict[str, float]]:
        total = sum(self.seconds.values())
        return {phase: {"ms_per_step": round(1000 * s / steps, 2), "fraction": round(s / total, 3)}
                for phase, s in self.seconds.items()}


def optimizer(net: torch.nn.Module, cfg: Train, fused: bool) -> torch.optim.SGD:
    return torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                           fused=fused)


def encoder(paper: Paper, device: torch.device) -> torch.nn.Module:
    net = build_encoder(paper.model, paper.image.input_size, SEED).to(device, memory_format=torch.channels_last)
    return net.train()


def step_rows(n_images: int, steps: int, batch: int, rng: np.random.Generator) -> np.ndarray:
    """``steps`` batches of row numbers: permutations of the few synthetic images, end to end."""
    return np.concatenate([rng.permutation(n_images) for _ in range(-(-steps * batch // n_images))])[:steps * batch]


# --- the new loop ---------------------------------------------------------------------------

def new_loop(paper: Paper, images: np.ndarray, cfg: StepConfig, device: torch.device, compile_: bool,
             warmup: int, steps: int, phase_steps: int, rng: np.random.Generator) -> dict:
    """pipeline.epoch.run_epoch as train() drives it: timed, then instrumented."""
    model = encoder(paper, device)
    opt = optimizer(model, paper.train, fused=device.type == "cuda")
    net = torch.compile(model) if compile_ else model
    gen = torch.Generator(device=device).manual_seed(SEED)

    def epoch(n: int) -> None:
        losses = run_epoch(net, opt, images, step_rows(len(images), n, cfg.local_batch, rng), cfg, gen, Rank(), device)
        losses.cpu()  # train()'s one host sync per epoch

    epoch(warmup)
    start = now(device)
    epoch(steps)
    pairs_per_s = steps * cfg.local_batch / (now(device) - start)

    bf16 = device.type == "cuda"
    rows = step_rows(len(images), phase_steps, cfg.local_batch, rng)
    laps = Laps(device)
    for chunk in read_chunks(images, rows, cfg.chunk, pin=device.type == "cuda"):  # run_epoch's body, timed
        chunk = chunk.to(device, non_blocking=True)
        laps("data")
        for first in range(0, len(chunk), cfg.local_batch):
            x = augment.to_float(chunk[first:first + cfg.local_batch])
            v1 = augment.view(x, cfg.input_size, cfg.augment, cfg.mean, cfg.std, gen)
            v2 = augment.view(x, cfg.input_size, cfg.augment, cfg.mean, cfg.std, gen)
            laps("augment")
            loss = contrastive_loss(net, v1, v2, cfg.temperature, Rank(), bf16)
            laps("forward")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            laps("backward_step")
    return {"pairs_per_s": pairs_per_s, "phases": laps.summary(phase_steps)}


# --- today's loop: a replica of commit 210ef9a's train() step --------------------------------

def today_loop(paper: Paper, images: np.ndarray, cfg: StepConfig, device: torch.device, warmup: int,
               steps: int, phase_steps: int, rng: np.random.Generator) -> dict:
    model = encoder(paper, device)
    opt = optimizer(model, paper.train, fused=False)
    gen = torch.Generator(device=device).manual_seed(SEED)
    on_device = torch.from_numpy(images).to(device)  # (N, S, S, 3): the whole array, as 210ef9a
    batch, bf16 = cfg.local_batch, device.type == "cuda"

    def run(n: int, lap: Callable[[str], None]) -> None:
        order = torch.from_numpy(step_rows(len(images), n, batch, rng)).to(device)
        losses = []
        for step in range(n):
            x = augment.to_float(on_device[order[step * batch:(step + 1) * batch]])  # (B, 3, S, S)
            lap("data")
            v1 = augment.view(x, cfg.input_size, cfg.augment, cfg.mean, cfg.std, gen)
            v2 = augment.view(x, cfg.input_size, cfg.augment, cfg.mean, cfg.std, gen)
            lap("augment")
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                z = model(torch.cat([v1, v2]).contiguous(memory_format=torch.channels_last))  # (2B, P)
            loss = nt_xent(z[:batch], z[batch:], temperature=cfg.temperature)
            lap("forward")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())  # the per-step host sync
            lap("backward_step")

    run(warmup, lambda phase: None)
    start = now(device)
    run(steps, lambda phase: None)
    pairs_per_s = steps * batch / (now(device) - start)
    laps = Laps(device)
    run(phase_steps, laps)
    return {"pairs_per_s": pairs_per_s, "phases": laps.summary(phase_steps)}


# --- seed-style: per-sample PIL transforms in DataLoader workers ------------------------------

class TwoViews(torch.utils.data.Dataset):
    """Item i: two independently transformed views of synthetic image ``i mod N``."""

    def __init__(self, images: np.ndarray, length: int, to_pil: Callable, transform: Callable):
        self.images, self.length, self.to_pil, self.transform = images, length, to_pil, transform

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        im = self.to_pil(self.images[i % len(self.images)])
        return self.transform(im), self.transform(im)


def seed_style(paper: Paper, images: np.ndarray, cfg: StepConfig, device: torch.device, warmup: int, steps: int,
               workers: int) -> dict:
    try:
        from torchvision import transforms

        from benchmarks.augment_throughput import per_sample_pipeline
    except ImportError as exc:
        return {"pairs_per_s": None, "note": f"skipped: {exc} (the seed-style pipeline needs torchvision and PIL)"}
    transform = transforms.Compose([per_sample_pipeline(cfg.augment, cfg.input_size),
                                    transforms.Normalize(cfg.mean, cfg.std)])
    batch, bf16 = cfg.local_batch, device.type == "cuda"
    pairs = TwoViews(images, (warmup + steps) * batch, transforms.ToPILImage(), transform)
    loader = torch.utils.data.DataLoader(pairs, batch_size=batch, shuffle=True, drop_last=True, num_workers=workers,
                                         pin_memory=device.type == "cuda", persistent_workers=workers > 0,
                                         generator=torch.Generator().manual_seed(SEED))
    model = encoder(paper, device)
    opt = optimizer(model, paper.train, fused=False)

    def run(batches: Iterator, n: int) -> None:
        for _ in range(n):
            v1, v2 = (v.to(device, non_blocking=True) for v in next(batches))
            loss = contrastive_loss(model, v1, v2, cfg.temperature, Rank(), bf16)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss.item()

    batches = iter(loader)
    run(batches, warmup)  # includes starting the workers
    start = now(device)
    run(batches, steps)
    return {"pairs_per_s": steps * batch / (now(device) - start)}


# --- the run --------------------------------------------------------------------------------

def peak_memory_gib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 2**30  # KiB on Linux


def measured(device: torch.device, run: Callable[[], dict]) -> dict:
    """``run()``'s figures plus its peak memory (per loop on CUDA; the process's so far on a CPU)."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    out = run()
    out["peak_memory_gib"] = round(peak_memory_gib(device), 3)
    return out


def device_kind(device: torch.device) -> str:
    return f"cuda:{torch.cuda.get_device_name(device)}" if device.type == "cuda" else "cpu"


def write(entry: dict, kind: str, path: Path) -> None:
    """Merge this device kind's entry into the results file (and a copy into ``$OUT``)."""
    results = json.loads(path.read_text()) if path.exists() else {}
    results[kind] = entry
    text = json.dumps(results, indent=1) + "\n"
    path.write_text(text)
    if os.environ.get("OUT"):
        (Path(os.environ["OUT"]) / path.name).write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, help="images per step (default: the paper's; 32 on a CPU)")
    parser.add_argument("--warmup", type=int, help="untimed steps first (default 50; 1 on a CPU)")
    parser.add_argument("--steps", type=int, help="timed steps (default 200; 3 on a CPU)")
    parser.add_argument("--phase-steps", type=int, help="steps of the instrumented pass (default 20; 2 on a CPU)")
    parser.add_argument("--images", type=int, help="synthetic images (default: 4 batches)")
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1),
                        help="seed-style DataLoader workers")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: train.threads, at most the CPUs)")
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, help="torch.compile the new loop's "
                        "encoder (default: train.compile)")
    parser.add_argument("--out", type=Path, default=RESULTS / "train_throughput.json")
    args = parser.parse_args()

    paper = paper_config()
    device = torch.device(args.device)
    gpu = device.type == "cuda"
    batch = args.batch or (paper.train.batch_size if gpu else 32)
    warmup = args.warmup if args.warmup is not None else (50 if gpu else 1)
    steps = args.steps or (200 if gpu else 3)
    phase_steps = args.phase_steps or (20 if gpu else 2)
    if min(warmup, steps, phase_steps) < 1:
        parser.error("--warmup, --steps and --phase-steps need at least one step each")
    compile_ = paper.train.compile if args.compile is None else args.compile
    threads = args.threads or min(paper.train.threads, os.cpu_count() or 1)
    torch.set_num_threads(threads)

    rng = np.random.default_rng(SEED)
    s = paper.image.stored_size
    images = rng.integers(0, 256, (args.images or 4 * batch, s, s, 3), dtype=np.uint8)  # (N, S, S, 3)
    mean = tuple(float(m) for m in images.mean((0, 1, 2)) / 255)
    std = tuple(float(d) for d in images.std((0, 1, 2)) / 255)
    cfg = StepConfig(batch, chunk_length(paper.io.chunk_images, batch), paper.image.input_size, paper.augment,
                     mean, std, paper.train.temperature)

    new = measured(device, lambda: new_loop(paper, images, cfg, device, compile_, warmup, steps, phase_steps, rng))
    print(f"new loop:   {new['pairs_per_s']:9.1f} pairs/s", flush=True)
    today = measured(device, lambda: today_loop(paper, images, cfg, device, warmup, steps, phase_steps, rng))
    print(f"today's:    {today['pairs_per_s']:9.1f} pairs/s", flush=True)
    seed = measured(device, lambda: seed_style(paper, images, cfg, device, warmup, steps, args.workers))
    print(f"seed-style: {seed['pairs_per_s']:9.1f} pairs/s" if seed["pairs_per_s"] else f"seed-style: {seed['note']}",
          flush=True)

    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 2) if a and b else None

    entry = {
        "pairs_per_s": round(new["pairs_per_s"], 1),
        "today_pairs_per_s": round(today["pairs_per_s"], 1),
        "seed_style_pairs_per_s": seed["pairs_per_s"] and round(seed["pairs_per_s"], 1),
        "ratio_vs_today": ratio(new["pairs_per_s"], today["pairs_per_s"]),
        "ratio_vs_seed_style": ratio(new["pairs_per_s"], seed["pairs_per_s"]),
        "peak_memory_gib": new["peak_memory_gib"],
        "peak_memory": {"what": "torch.cuda.max_memory_allocated per loop" if gpu else
                        "peak RSS of the process (ru_maxrss), cumulative in run order: new, today, seed-style",
                        "new": new["peak_memory_gib"], "today": today["peak_memory_gib"],
                        "seed_style": seed["peak_memory_gib"]},
        "phases": {"new": new["phases"], "today": today["phases"]},
        "config": {"survey": SURVEY, "source": paper.source, "model": paper.train.model, "widths": asdict(paper.model),
                   "augment": paper.train.augment, "input_size": paper.image.input_size, "stored_size": s,
                   "batch": batch, "paper_batch": paper.train.batch_size, "images": len(images),
                   "chunk_images": cfg.chunk, "warmup_steps": warmup, "timed_steps": steps,
                   "phase_steps": phase_steps, "bf16": gpu, "compile": compile_, "fused_sgd": gpu,
                   "threads": threads, "workers": args.workers, "torch": torch.__version__,
                   "device": torch.cuda.get_device_name(device) if gpu else "cpu", "cpus": os.cpu_count()},
    }
    if "note" in seed:
        entry["seed_style_note"] = seed["note"]
    write(entry, device_kind(device), args.out)
    print(json.dumps(entry, indent=1))


if __name__ == "__main__":
    main()
