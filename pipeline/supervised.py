"""The supervised baseline of paper Fig. 7: the survey's encoder trained from scratch on labels.

"SL approach is trained from scratch with the same architecture of our encoder" (Sect. 4.3):
the fusion backbone (no projector) with a linear head, cross-entropy, SGD.  Each image is seen
as one augmented view per step, with the survey's own augmentation set (what supervised
training on the same images would use), and evaluated on the centred view as the kNN is.
Each epoch draws its randomness from a generator seeded by (seed, epoch), as pipeline/train.py.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

import pipeline.model
from pipeline import augment, progress
from pipeline.embed import embed_images
from pipeline.model import FusionEncoder, build_encoder
from pipeline.params import Augment, Model, Supervised

#: The source files whose code decides a trained baseline: a saved result of other code is stale.
_CODE = (Path(__file__), Path(augment.__file__), *sorted(Path(pipeline.model.__file__).parent.glob("*.py")))


@dataclass(frozen=True)
class Setup:
    """Everything a supervised run depends on besides its images and labels."""

    cfg: Supervised
    model: Model
    augment: Augment
    input_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    n_classes: int
    seed: int

    def fingerprint(self, arrays: list[np.ndarray], device: torch.device) -> str:
        """Identity of a run on ``arrays`` (its images, labels, test data): settings, data, code
        and device kind (a CPU and a GPU give different weights)."""
        h = hashlib.sha256(json.dumps(asdict(self), sort_keys=True, default=list).encode())
        for a in arrays:
            h.update(str((a.dtype, a.shape)).encode())
            h.update(np.ascontiguousarray(a).tobytes())
        for path in _CODE:
            h.update(path.read_bytes())
        h.update(device.type.encode())
        return h.hexdigest()[:16]


class Classifier(nn.Module):
    """Encoder backbone + linear head: (B, 3, H, W) -> (B, n_classes) logits."""

    def __init__(self, encoder: FusionEncoder, n_classes: int):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.backbone_dim, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder.backbone(x))


def schedule(n: int, cfg: Supervised) -> tuple[int, int, int]:
    """(batch, steps per epoch, epochs) for ``n`` galaxies: ``cfg.epochs``, or more so that even a
    small subset gets ``cfg.min_steps`` SGD steps.  A subset smaller than a batch is one batch;
    otherwise the ragged last batch is dropped (BatchNorm needs size), as in pipeline/train.py."""
    batch = min(cfg.batch_size, n)
    per_epoch = n // batch
    return batch, per_epoch, max(cfg.epochs, math.ceil(cfg.min_steps / per_epoch))


def train_classifier(images: np.ndarray, labels: np.ndarray, setup: Setup, device: torch.device,
                     desc: str = "supervised") -> Classifier:
    """Train a fresh classifier on (N, S, S, 3) uint8 ``images`` with class ids ``labels``.

    The learning rate decays by a cosine over all steps (per step, not per epoch: a small subset
    has a single step per epoch).
    """
    cfg = setup.cfg
    encoder = build_encoder(setup.model, setup.input_size, setup.seed)  # seeds the head's init too
    # channels-last: the convolutions' fast layout on CPUs and GPUs alike (as pipeline/train.py)
    model = Classifier(encoder, setup.n_classes).to(device, memory_format=torch.channels_last)
    # The projector takes no part: its parameters get no gradient and SGD leaves them alone.
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    batch, per_epoch, epochs = schedule(len(images), cfg)
    lr = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * per_epoch)
    x_all = torch.from_numpy(np.ascontiguousarray(images)).to(device)          # (N, S, S, 3) uint8
    y_all = torch.as_tensor(np.asarray(labels), dtype=torch.long, device=device)
    model.train()
    bar = progress.progress(total=epochs * per_epoch, desc=desc, unit="step")
    for epoch in range(epochs):
        gen = torch.Generator(device=device).manual_seed(setup.seed * 1000 + epoch)
        order = torch.randperm(len(images), generator=gen, device=device)
        for step in range(per_epoch):
            rows = order[step * batch:(step + 1) * batch]
            x = augment.view(augment.to_float(x_all[rows]), setup.input_size, setup.augment, setup.mean,
                             setup.std, gen)                                    # (B, 3, I, I)
            loss = nn.functional.cross_entropy(model(x.contiguous(memory_format=torch.channels_last)), y_all[rows])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            lr.step()
            bar.update()
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    bar.close()
    return model.eval()


@torch.no_grad()
def predict(model: Classifier, images: np.ndarray, setup: Setup, batch_size: int, device: torch.device) -> np.ndarray:
    """Predicted class ids of (N, S, S, 3) uint8 ``images`` on their centred view."""
    backbone, _ = embed_images(model.encoder, images, setup.input_size, setup.mean, setup.std, batch_size, device)
    return model.head(torch.from_numpy(backbone).to(device)).argmax(1).cpu().numpy()
