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

from pipeline import augment, progress
from pipeline.embed import embed_images
from pipeline.loss import nt_xent
from pipeline.metrics import knn_scores
from pipeline.model import FusionEncoder, build_encoder
from pipeline.params import Augment, Evaluate, Image, Model, Train
from pipeline.prepare import Prepared

EpochLog = Callable[[dict[str, float]], None]
#: The ``evaluate`` keys the per-epoch validation kNN reads.
MONITOR_KEYS = ("k", "representation", "batch_size")


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

    def fingerprint(self) -> str:
        # Of the evaluate block, training reads only what its val-split monitor uses (dvc.yaml
        # declares just these: a new k list for the evaluate stage does not restart training).
        fields = {**asdict(replace(self, evaluate=None)),
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


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def epoch_lr(epoch: int, cfg: Train) -> float:
    """Cosine decay from lr towards lr * lr_final_factor, set once per epoch (as the reference).

    The cosine reaches lr * lr_final_factor at ``epoch == epochs``, one past the last epoch
    trained: the last epoch runs at about lr * sin^2(pi / (2 epochs)) (9.3e-5 for the demo's
    0.06 over 40 epochs), not at the floor.  Kept as it is: changing it changes every result.
    """
    low = cfg.lr * cfg.lr_final_factor
    return low + (cfg.lr - low) * (1 + math.cos(math.pi * epoch / cfg.epochs)) / 2


def validate(model: FusionEncoder, prepared: Prepared, setup: Setup, device: torch.device) -> dict[str, float]:
    """kNN accuracy, NMI, ARI at ``evaluate.k``: train split as bank, val split as queries."""
    used = np.flatnonzero(prepared.index["split"].isin(["train", "val"]).to_numpy())  # not test
    split = prepared.index["split"].to_numpy()[used]
    labels = prepared.index["label_id"].to_numpy()[used]
    backbone, projection = embed_images(model, prepared.images[used], setup.image.input_size, prepared.mean,
                                        prepared.std, setup.evaluate.batch_size, device)
    feats = backbone if setup.evaluate.representation == "backbone" else projection
    bank, val = split == "train", split == "val"
    k = min(setup.evaluate.k, int(bank.sum()))
    scores = knn_scores(feats[bank], labels[bank], feats[val], labels[val], [k], k, setup.classes)
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


def train(prepared: Prepared, setup: Setup, checkpoint: Path, log: EpochLog,
          device: torch.device | None = None) -> tuple[FusionEncoder, list[dict[str, float]]]:
    """Train (or resume) and return the model and the per-epoch history.

    ``log`` receives every epoch's metrics, replayed from the checkpoint on resume, so a
    resumed run logs the same history as an uninterrupted one.
    """
    device = device or pick_device()
    cfg = setup.train
    # channels-last: the convolutions' fast layout on CPUs (about 1.2x here) and GPUs alike
    model = build_encoder(setup.model, setup.image.input_size, setup.seed).to(device, memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    fingerprint = setup.fingerprint()
    history: list[dict[str, float]] = []
    state = _load_checkpoint(checkpoint, fingerprint)
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        history = state["history"]
        progress.write(f"resuming from epoch {len(history)} of {cfg.epochs} ({checkpoint})")
        for row in history:
            log(row)

    train_rows = np.flatnonzero(prepared.index["split"].to_numpy() == "train")
    images = torch.from_numpy(np.ascontiguousarray(prepared.images[train_rows])).to(device)  # (N, S, S, 3)
    batch = min(cfg.batch_size, len(train_rows))
    steps = max(1, len(train_rows) // batch)  # drop the ragged last batch: BatchNorm needs size
    use_bf16 = device.type == "cuda"

    for epoch in range(len(history), cfg.epochs):
        gen = torch.Generator(device=device).manual_seed(setup.seed * 1000 + epoch)
        lr = epoch_lr(epoch, cfg)
        for group in opt.param_groups:
            group["lr"] = lr
        model.train()
        order = torch.randperm(len(train_rows), generator=gen, device=device)
        losses = []
        start = time.perf_counter()
        # inner: in a log, the epoch's summary line below says all the bar would
        bar = progress.progress(range(steps), desc=f"train epoch {epoch + 1}/{cfg.epochs}", unit="step",
                                leave=False, inner=True)
        for step in bar:
            x = augment.to_float(images[order[step * batch:(step + 1) * batch]])  # (B, 3, S, S)
            v1 = augment.view(x, setup.image.input_size, setup.augment, prepared.mean, prepared.std, gen)
            v2 = augment.view(x, setup.image.input_size, setup.augment, prepared.mean, prepared.std, gen)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                z = model(torch.cat([v1, v2]).contiguous(memory_format=torch.channels_last))  # (2B, P)
            loss = nt_xent(z[:batch], z[batch:], temperature=cfg.temperature)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{losses[-1]:.3f}",
                            img_s=f"{(step + 1) * batch / (time.perf_counter() - start):.0f}")
        # Speed goes to the console only: metrics must be identical across identical runs.
        progress.write(f"epoch {epoch + 1}/{cfg.epochs}: loss {np.mean(losses):.4f}, "
                       f"{steps * batch / (time.perf_counter() - start):.0f} images/s")
        row = {"epoch": epoch + 1, "loss": float(np.mean(losses)), "lr": lr}
        if (prepared.index["split"] == "val").any():
            row.update(validate(model, prepared, setup, device))
        history.append(row)
        log(row)
        _save_checkpoint(checkpoint, {"fingerprint": fingerprint, "model": model.state_dict(),
                                      "optimizer": opt.state_dict(), "history": history})
    return model, history
