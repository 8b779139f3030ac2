"""What each rank runs in tests/test_distributed.py, started by torchrun (gloo, CPU).

``python -m torch.distributed.run --standalone --nproc-per-node=N tests/distributed_worker.py MODE OUT [STOP]``

- ``step``: one NT-Xent step of the tiny encoder on this rank's share of a fixed global batch;
  rank 0 saves the loss, the gradients and the BatchNorm running statistics to OUT.
- ``train``: the training loop on the tiny prepared set with its checkpoint in OUT; every rank
  stops (exit code 3) once epoch STOP is checkpointed, or runs to the end without STOP.
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for pipeline/ and tests/

from pipeline import distributed  # noqa: E402
from pipeline.model import build_encoder  # noqa: E402
from pipeline.epoch import contrastive_loss  # noqa: E402
from pipeline.train import train  # noqa: E402
from tests.test_train import TINY_MODEL, _prepared, _setup  # noqa: E402

BATCH, SIDE, TEMPERATURE, SEED = 8, 16, 0.2, 5


def views() -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed global batch of view pairs every process derives alike."""
    gen = torch.Generator().manual_seed(11)
    return (torch.randn(BATCH, 3, SIDE, SIDE, generator=gen), torch.randn(BATCH, 3, SIDE, SIDE, generator=gen))


def step(rank: distributed.Rank) -> dict:
    """One forward/backward of this rank's rows through the (DDP-wrapped) encoder."""
    torch.manual_seed(0)
    model = build_encoder(TINY_MODEL, SIDE, SEED).to(memory_format=torch.channels_last)  # as train()
    net = distributed.wrap(model, rank, torch.device("cpu"))
    v1, v2 = views()
    share = slice(rank.rank * BATCH // rank.world, (rank.rank + 1) * BATCH // rank.world)
    loss = contrastive_loss(net, v1[share], v2[share], TEMPERATURE, rank, bf16=False)
    loss.backward()
    return {"loss": loss.detach(), "grads": {n: p.grad for n, p in model.named_parameters()},
            "buffers": {n: b.clone() for n, b in model.named_buffers()}}


def main() -> None:
    mode, out = sys.argv[1], Path(sys.argv[2])
    torch.set_num_threads(1)
    rank = distributed.init("cpu")
    if mode == "step":
        result = step(rank)
        if rank.is_main:
            torch.save(result, out)
    elif mode == "train":
        stop = int(sys.argv[3]) if len(sys.argv) > 3 else None
        logged = []

        def log(row: dict) -> None:
            logged.append(row)
            if row["epoch"] == stop:
                sys.exit(3)

        _, history = train(_prepared(), _setup(), out / "ckpt.pt", log, torch.device("cpu"), chunk_images=8, rank=rank)
        if rank.is_main:
            torch.save({"history": history, "logged": logged}, out / "history.pt")
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
