"""Contrastive pretraining loop (paper Sect. 3.1, 4.1): SimCLR-style two views, NT-Xent, SGD.

Read top to bottom: per epoch, shuffle, make two augmented views per image on the device,
encode, loss, step; then a validation kNN on the val split (paper Fig. 10) and a checkpoint.
Each epoch draws its randomness from its own generator seeded by (seed, epoch), so a run
resumed from the checkpoint of epoch e is bit-identical to one that never stopped.

On "warm up the network in the first 20 epochs by only using the InfoNCE loss": the reference
code has no second loss, so every epoch here uses InfoNCE only and the sentence changes nothing.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from pipeline import progress
from pipeline.chunks import chunk_length
from pipeline.distributed import Rank, barrier, broadcast, pick_device, wrap
from pipeline.embed import embed_images
from pipeline.epoch import StepConfig, epoch_randomness, epoch_rows, global_batch, run_epoch
from pipeline.metrics import knn_scores
from pipeline.model import FusionEncoder, build_encoder
from pipeline.model_file import ModelInfo, geometry_of, project_version
from pipeline.params import Augment, Evaluate, Image, Knn, Model, Train
from pipeline.prepare import Prepared

EpochLog = Callable[[dict[str, float]], None]
#: The ``evaluate`` keys the per-epoch validation kNN reads.
MONITOR_KEYS = ("k", "representation", "batch_size")
#: The ``train`` keys that say how a run is laid out on devices, not what it computes.
LAYOUT_KEYS = ("devices", "nodes", "compile")


@dataclass
class Setup:
    """Everything a training run depends on; its fingerprint keys the checkpoint."""

    train: Train
    model: Model
    augment: Augment
    image: Image
    evaluate: Evaluate
    classes: list[str]
    seed: int
    data_digest: str = field(default="")
    knn: Knn | None = None  # the search behind the val-split kNN (None: exact)

    def fingerprint(self) -> str:
        # Of the evaluate block, training reads only what its val-split monitor uses (dvc.yaml
        # declares just these: a new k list for the evaluate stage does not restart training).
        # How many devices run it, and whether it is compiled, change no result: a run may resume
        # with a different layout (pipeline/distributed.py).
        fields = {**asdict(replace(self, evaluate=None)),
                  "train": {key: value for key, value in asdict(self.train).items() if key not in LAYOUT_KEYS},
                  "evaluate": {key: getattr(self.evaluate, key) for key in MONITOR_KEYS}}
        blob = json.dumps(fields, sort_keys=True, default=list)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def data_digest(prepared: Prepared) -> str:
    """A cheap identity of the prepared data: ids, splits and normalisation."""
    h = hashlib.sha256()
    h.update("|".join(prepared.index["id"].astype(str)).encode())
    h.update("|".join(prepared.index["split"].astype(str)).encode())
    h.update(json.dumps([prepared.mean, prepared.std]).encode())
    return h.hexdigest()[:16]


def model_info(setup: Setup, survey: str, model_name: str, prepared: Prepared,
               colour: dict | None) -> ModelInfo:
    """What the model file records about the encoder ``setup`` trains on ``prepared``."""
    return ModelInfo(survey=survey, model_name=model_name, model=asdict(setup.model), geometry=geometry_of(setup.image),
                     mean=tuple(prepared.mean), std=tuple(prepared.std), classes=tuple(setup.classes),
                     seed=setup.seed, data_digest=setup.data_digest, project_version=project_version(),
                     train=asdict(setup.train), colour=colour)


def epoch_lr(epoch: int, cfg: Train) -> float:
    """Cosine decay from lr towards lr * lr_final_factor, set once per epoch (as the reference).

    The cosine reaches lr * lr_final_factor at ``epoch == epochs``, one past the last epoch
    trained: the last epoch runs at about lr * sin^2(pi / (2 epochs)) (9.3e-5 for the demo's
    0.06 over 40 epochs), not at the floor.  Kept as it is: changing it changes every result.
    """
    low = cfg.lr * cfg.lr_final_factor
    return low + (cfg.lr - low) * (1 + math.cos(math.pi * epoch / cfg.epochs)) / 2


def validate(model: FusionEncoder, prepared: Prepared, setup: Setup, device: torch.device, *,
             chunk_images: int = 8192) -> dict[str, float]:
    """kNN accuracy, NMI, ARI at ``evaluate.k``: train split as bank, val split as queries."""
    used = np.flatnonzero(prepared.index["split"].isin(["train", "val"]).to_numpy())  # not test
    split = prepared.index["split"].to_numpy()[used]
    labels = prepared.index["label_id"].to_numpy()[used]
    backbone, projection = embed_images(model, prepared.images, setup.image.input_size, prepared.mean,
                                        prepared.std, setup.evaluate.batch_size, device, rows=used,
                                        chunk_images=chunk_images)
    feats = backbone if setup.evaluate.representation == "backbone" else projection
    bank, val = split == "train", split == "val"
    k = min(setup.evaluate.k, int(bank.sum()))
    scores = knn_scores(feats[bank], labels[bank], feats[val], labels[val], [k], k, setup.classes, search=setup.knn)
    return {"val_knn": scores["knn"][f"k{k}"], "val_nmi": scores["nmi"], "val_ari": scores["ari"]}


def _save_checkpoint(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)  # atomic: a kill leaves the previous checkpoint intact


def _load_checkpoint(path: Path, fingerprint: str) -> dict | None:
    if not path.exists():
        return None
    state = torch.load(path, map_location="cpu", weights_only=False)
    return state if state.get("fingerprint") == fingerprint else None


def _resume_state(checkpoint: Path, fingerprint: str, rank: Rank) -> dict | None:
    """Rank 0 reads the checkpoint, every rank gets it (the others may be on other machines)."""
    return broadcast(_load_checkpoint(checkpoint, fingerprint) if rank.is_main else None, rank)


def train(prepared: Prepared, setup: Setup, checkpoint: Path, log: EpochLog,
          device: torch.device | None = None, *, chunk_images: int = 8192,
          rank: Rank = Rank()) -> tuple[FusionEncoder, list[dict[str, float]]]:
    """Train (or resume) and return the model and the per-epoch history.

    ``log`` receives every epoch's metrics after its checkpoint is written, replayed from the
    checkpoint on resume, so a resumed run logs the same history as an uninterrupted one; with
    several ranks every rank receives rank 0's rows.  The checkpoint does not depend on the
    number of ranks: a run may resume on more or fewer devices.  Host memory holds about three
    chunks of ``chunk_images`` prepared images (pipeline/chunks.py).
    """
    device = device or pick_device()
    cfg = setup.train
    # channels-last: the convolutions' fast layout on CPUs (about 1.2x here) and GPUs alike
    model = build_encoder(setup.model, setup.image.input_size, setup.seed).to(device, memory_format=torch.channels_last)
    fingerprint = setup.fingerprint()
    state = _resume_state(checkpoint, fingerprint, rank)
    if state is not None:
        model.load_state_dict(state["model"])
    net = wrap(model, rank, device)  # DDP + synced BatchNorm when there are several ranks
    # fused: one kernel for the whole step on GPUs; the CPU keeps PyTorch's default, bit for bit
    opt = torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                          fused=device.type == "cuda")
    history: list[dict[str, float]] = []
    if state is not None:
        opt.load_state_dict(state["optimizer"])
        history = state["history"]
        if rank.is_main:
            progress.write(f"resuming from epoch {len(history)} of {cfg.epochs} ({checkpoint})")
        for row in history:
            log(row)
    if cfg.compile:
        net = torch.compile(net)

    split = prepared.index["split"].to_numpy()
    train_rows = np.flatnonzero(split == "train")
    batch = global_batch(cfg.batch_size, len(train_rows), rank)
    local = batch // rank.world
    steps = max(1, len(train_rows) // batch)  # drop the ragged last batch: BatchNorm needs size
    step_cfg = StepConfig(local, chunk_length(chunk_images, local), setup.image.input_size, setup.augment,
                          prepared.mean, prepared.std, cfg.temperature)

    for epoch in range(len(history), cfg.epochs):
        order, gen = epoch_randomness(setup.seed, epoch, len(train_rows), rank, device)
        rows = train_rows[epoch_rows(order, steps, batch, rank)]
        lr = epoch_lr(epoch, cfg)
        for group in opt.param_groups:
            group["lr"] = lr
        net.train()
        start = time.perf_counter()
        # inner: in a log, the epoch's summary line below says all the bar would
        with progress.progress(total=steps, desc=f"train epoch {epoch + 1}/{cfg.epochs}", unit="step",
                               leave=False, inner=True, disable=None if rank.is_main else True) as bar:
            losses = run_epoch(net, opt, prepared.images, rows, step_cfg, gen, rank, device, on_step=bar.update)
        # float64 before the mean: the same number as averaging the steps' Python floats
        epoch_loss = float(np.mean(losses.double().cpu().numpy()))
        # Speed goes to the console only: metrics must be identical across identical runs.
        if rank.is_main:
            progress.write(f"epoch {epoch + 1}/{cfg.epochs}: loss {epoch_loss:.4f}, "
                           f"{steps * batch / (time.perf_counter() - start):.0f} images/s")
        row = {"epoch": epoch + 1, "loss": epoch_loss, "lr": lr}
        if rank.is_main and (split == "val").any():
            row.update(validate(model, prepared, setup, device, chunk_images=chunk_images))
        row = broadcast(row, rank)
        history.append(row)
        if rank.is_main:
            _save_checkpoint(checkpoint, {"fingerprint": fingerprint, "model": model.state_dict(),
                                          "optimizer": opt.state_dict(), "history": history})
        barrier(rank)  # nobody runs ahead of the checkpoint
        log(row)
    return model, history
