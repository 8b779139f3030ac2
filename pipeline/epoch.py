"""One epoch of contrastive training on this rank's rows (paper Sect. 3.1, 4.1).

Apart from :mod:`pipeline.train` (checkpoints, validation, logs) so that it imports no more than
torch needs: the GPU throughput benchmark runs it on machines with torch and nothing else.
Per step: a uint8 batch from the chunk already on the device, two augmented views made on the
device, NT-Xent over the global batch, one SGD step.  Nothing in the loop waits for the device:
the losses stay there until the epoch ends.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from pipeline import augment
from pipeline.chunks import read_chunks
from pipeline.distributed import Rank, gather_with_grad
from pipeline.errors import InputError
from pipeline.loss import nt_xent
from pipeline.params import Augment


@dataclass(frozen=True)
class StepConfig:
    """What every step of an epoch needs besides the model and the data."""

    local_batch: int                 # images per step on this rank
    chunk: int                       # images per host chunk, a multiple of local_batch
    input_size: int                  # side of the augmented views
    augment: Augment
    mean: tuple[float, ...]
    std: tuple[float, ...]
    temperature: float


def epoch_rows(order: np.ndarray, steps: int, batch: int, rank: Rank) -> np.ndarray:
    """This rank's positions in the epoch's permutation: its 1/world share of every global batch.

    Global batch i is ``order[i * batch:(i + 1) * batch]`` and rank r takes its r-th slice; the
    ragged end is dropped (BatchNorm needs a full batch).  One rank: the permutation's first
    ``steps * batch`` entries, as they are.
    """
    local = batch // rank.world
    return order[:steps * batch].reshape(steps, rank.world, local)[:, rank.rank].reshape(-1)


def epoch_randomness(seed: int, epoch: int, n: int, rank: Rank,
                     device: torch.device) -> tuple[np.ndarray, torch.Generator]:
    """The epoch's permutation of the ``n`` train rows, the same on every rank, and this rank's
    generator for the augmentations.

    Both come from one generator seeded by (seed, epoch), so a resumed run repeats the epoch
    exactly.  Rank 0 (and a one-device run) continues that generator after the permutation;
    every other rank reseeds it with its rank, so no two ranks draw the same augmentations.
    """
    gen = torch.Generator(device=device).manual_seed(seed * 1000 + epoch)
    order = torch.randperm(n, generator=gen, device=device).cpu().numpy()
    if rank.rank:
        gen.manual_seed((seed * 1000 + epoch) * 1009 + rank.rank)
    return order, gen


def global_batch(batch_size: int, n_train: int, rank: Rank) -> int:
    """The images per step over all ranks: ``batch_size`` (at most the train split), a multiple
    of the number of ranks."""
    batch = min(batch_size, n_train) // rank.world * rank.world
    if batch < 2 * rank.world:  # every rank needs two images for BatchNorm
        raise InputError(f"the train split's {n_train} images cannot give each of {rank.world} devices the two a "
                         f"BatchNorm step needs: fewer train.devices x nodes, or more galaxies")
    return batch


def contrastive_loss(net: torch.nn.Module, v1: torch.Tensor, v2: torch.Tensor, temperature: float,
                     rank: Rank, bf16: bool) -> torch.Tensor:
    """NT-Xent (Eq. 2-3) of this rank's pairs against every rank's: the global batch's loss.

    Both views go through the encoder as one batch (BatchNorm sees both).  The projections of
    all ranks are gathered with gradients, so each rank computes the loss of the whole global
    batch; DDP's averaging of the ranks' gradients then gives exactly the gradient of that loss.
    """
    local = len(v1)
    with torch.autocast(v1.device.type, dtype=torch.bfloat16, enabled=bf16):
        z = net(torch.cat([v1, v2]).contiguous(memory_format=torch.channels_last))  # (2B, P)
    return nt_xent(gather_with_grad(z[:local], rank), gather_with_grad(z[local:], rank), temperature=temperature)


def run_epoch(net: torch.nn.Module, opt: torch.optim.Optimizer, images: np.ndarray, rows: np.ndarray,
              cfg: StepConfig, gen: torch.Generator, rank: Rank, device: torch.device,
              on_step: Callable[[], object] = lambda: None) -> torch.Tensor:
    """Train one pass over ``images[rows]`` (this rank's rows in step order); the steps' losses,
    still on the device (reading them is the caller's one sync of the epoch)."""
    bf16 = device.type == "cuda"
    losses = []
    for chunk in read_chunks(images, rows, cfg.chunk, pin=device.type == "cuda"):
        chunk = chunk.to(device, non_blocking=True)  # uint8: a quarter of the float bytes
        for first in range(0, len(chunk), cfg.local_batch):
            x = augment.to_float(chunk[first:first + cfg.local_batch])  # (B, 3, S, S)
            v1 = augment.view(x, cfg.input_size, cfg.augment, cfg.mean, cfg.std, gen)
            v2 = augment.view(x, cfg.input_size, cfg.augment, cfg.mean, cfg.std, gen)
            loss = contrastive_loss(net, v1, v2, cfg.temperature, rank, bf16)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.detach())
            on_step()
    return torch.stack(losses)
