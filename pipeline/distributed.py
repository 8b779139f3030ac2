"""One training run on several devices: torchrun, DDP, the global batch's negatives, synced BatchNorm.

SimCLR's recipe for data-parallel contrastive learning (Chen et al. 2020, Sect. 2 "Global BN"),
on PyTorch's own engine: every rank takes its share of each global batch, the projections of all
ranks are gathered with gradients so that NT-Xent sees the whole batch's negatives, and
BatchNorm statistics are computed over the whole batch.  With one device nothing here changes
a single computation of the plain loop.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn
from torch import nn

from pipeline.errors import InputError

#: torchrun sets these in every process it starts.
_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


@dataclass(frozen=True)
class Rank:
    """This process's place in the run: ``world`` processes, one device each."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes checkpoints, logs and models."""
        return self.rank == 0


def under_torchrun() -> bool:
    return all(key in os.environ for key in _ENV)


def torchrun_command(module: str, args: list[str], devices: int, nodes: int, key: str) -> list[str]:
    """The command that reruns ``python -m module args`` as ``devices`` x ``nodes`` processes.

    One node: ``--standalone`` (a local rendezvous).  Several nodes: every node runs the same
    stage with torchrun's own variables naming the rendezvous (``PET_RDZV_ENDPOINT=host:port``,
    and ``PET_RDZV_ID``, the same on every node), as torchrun documents.
    """
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={devices}", f"--nnodes={nodes}"]
    if nodes == 1:
        cmd.append("--standalone")
    elif "PET_RDZV_ENDPOINT" not in os.environ:
        raise InputError(f"{key}.nodes is {nodes}: set PET_RDZV_ENDPOINT=<host>:<port> (the rendezvous, "
                         "reachable from every node) and run the same stage on every node")
    else:
        cmd.append("--rdzv-backend=c10d")
    return [*cmd, "--module", module, *args]


def init(device_type: str) -> Rank:
    """Join the process group torchrun set up (NCCL on GPUs, gloo on CPUs); one process: no-op."""
    if not under_torchrun():
        return Rank()
    rank = Rank(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ["LOCAL_RANK"]))
    if rank.world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    return rank


def pick_device() -> torch.device:
    """The GPU when there is one: one process, one device."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def device_for(rank: Rank) -> torch.device:
    """One GPU per process (``LOCAL_RANK``), or the CPU."""
    if torch.cuda.is_available():
        torch.cuda.set_device(rank.local_rank)
        return torch.device("cuda", rank.local_rank)
    return torch.device("cpu")


def gather_with_grad(z: torch.Tensor, rank: Rank) -> torch.Tensor:
    """All ranks' rows of ``z`` in rank order; the gradient flows back to each rank's own rows."""
    if rank.world == 1:
        return z
    return torch.cat(dist_fn.all_gather(z))


def broadcast(obj: object, rank: Rank) -> object:
    """Rank 0's ``obj`` on every rank (checkpoints and logs live on rank 0's disk)."""
    if rank.world == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier(rank: Rank) -> None:
    if rank.world > 1:
        dist.barrier()


class AllReduceBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm over the whole global batch for CPU ranks, where PyTorch's SyncBatchNorm refuses.

    The per-channel count, sum and sum of squares go through a differentiable all-reduce, so the
    statistics and their gradients are those of one process holding every rank's rows.  GPU runs
    use :class:`torch.nn.SyncBatchNorm` (fused kernels); this is the same arithmetic for gloo.
    """

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected at least 2-D input, got {x.dim()}-D")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        dims = [0, *range(2, x.dim())]
        count = torch.tensor([x.numel() / x.shape[1]], dtype=x.dtype, device=x.device)
        stats = dist_fn.all_reduce(torch.cat([count, x.sum(dims), (x * x).sum(dims)]))
        n, total, squares = stats[0], stats[1:1 + x.shape[1]], stats[1 + x.shape[1]:]
        mean = total / n
        var = squares / n - mean * mean                        # biased: what normalises the batch
        with torch.no_grad():
            self.num_batches_tracked += 1
            self.running_mean.lerp_(mean.detach(), self.momentum)
            self.running_var.lerp_(var.detach() * n / (n - 1), self.momentum)  # unbiased, as BatchNorm
        shape = [1, -1] + [1] * (x.dim() - 2)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        return y * self.weight.view(shape) + self.bias.view(shape)


def _to_all_reduce_bn(module: nn.Module) -> nn.Module:
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        bn = AllReduceBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                                module.track_running_stats, device=module.weight.device)
        bn.load_state_dict(module.state_dict())
        return bn
    for name, child in module.named_children():
        setattr(module, name, _to_all_reduce_bn(child))
    return module


def sync_batchnorm(model: nn.Module, device: torch.device) -> nn.Module:
    """Every BatchNorm of ``model`` computed over the global batch (GPU: PyTorch's SyncBatchNorm)."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return _to_all_reduce_bn(model)


def wrap(model: nn.Module, rank: Rank, device: torch.device) -> nn.Module:
    """The model DDP averages gradients of; itself with one rank."""
    if rank.world == 1:
        return model
    model = sync_batchnorm(model, device)
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
