"""Data-parallel training for real: torchrun, the gloo backend, two CPU processes."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline.distributed import Rank
from pipeline.model import build_encoder
from pipeline.epoch import contrastive_loss, epoch_rows
from pipeline.train import train
from tests import distributed_worker as worker
from tests.test_train import _prepared, _setup

WORKER = Path(worker.__file__)


def _torchrun(ranks: int, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={ranks}",
           str(WORKER), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def test_epoch_shards_split_every_global_batch_between_ranks():
    order = np.random.default_rng(0).permutation(37)
    steps, batch = 4, 8
    shards = [epoch_rows(order, steps, batch, Rank(r, 2)) for r in range(2)]
    for i in range(steps):
        together = np.concatenate([s[i * 4:(i + 1) * 4] for s in shards])
        assert (together == order[i * batch:(i + 1) * batch]).all()  # rank order = the batch's order
    assert (epoch_rows(order, steps, batch, Rank()) == order[:32]).all()


def test_two_gloo_ranks_give_the_loss_and_gradients_of_one_process(tmp_path):
    """NT-Xent over the gathered projections, BatchNorm over both ranks, DDP's gradient
    average: the same numbers as one process holding the whole batch."""
    done = _torchrun(2, "step", str(tmp_path / "ranks.pt"))
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = torch.load(tmp_path / "ranks.pt")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = build_encoder(worker.TINY_MODEL, worker.SIDE, worker.SEED).to(memory_format=torch.channels_last)
    v1, v2 = worker.views()
    loss = contrastive_loss(model, v1, v2, worker.TEMPERATURE, Rank(), bf16=False)
    loss.backward()
    assert ranks["loss"].item() == pytest.approx(loss.item(), rel=1e-5)
    for name, param in model.named_parameters():  # float32 sums in another order: ~1e-5 of grads of order 1
        torch.testing.assert_close(ranks["grads"][name], param.grad, rtol=1e-3, atol=5e-5, msg=name)
    for name, buffer in model.named_buffers():  # running statistics of the global batch
        torch.testing.assert_close(ranks["buffers"][name], buffer, rtol=1e-4, atol=1e-6, msg=name)


def _checkpointed(path: Path) -> dict:
    return torch.load(path / "ckpt.pt", weights_only=False)


@pytest.mark.parametrize("first, then", [(2, 1), (1, 2)])
def test_a_run_resumes_on_another_number_of_devices(tmp_path, first, then):
    """Stopped after epoch 1 on ``first`` processes, finished on ``then``: every epoch once, in
    order, the first from the checkpoint, and the checkpoint a plain encoder loads."""
    setup = _setup(epochs=3)
    stopped = _torchrun(first, "train", str(tmp_path), "1")
    assert stopped.returncode != 0, "the worker should have stopped after epoch 1"
    state = _checkpointed(tmp_path)
    assert state["fingerprint"] == setup.fingerprint()
    assert [row["epoch"] for row in state["history"]] == [1]
    model = build_encoder(worker.TINY_MODEL, setup.image.input_size, setup.seed)
    model.load_state_dict(state["model"])  # no DDP prefixes, no converted BatchNorm keys
    assert len(state["optimizer"]["state"]) == len(list(model.parameters()))  # a momentum buffer each
    first_epoch = state["history"][0]

    finished = _torchrun(then, "train", str(tmp_path))
    assert finished.returncode == 0, finished.stderr[-3000:]
    result = torch.load(tmp_path / "history.pt")
    assert [row["epoch"] for row in result["history"]] == [1, 2, 3]
    assert result["history"][0] == first_epoch and result["logged"] == result["history"]
    assert [row["epoch"] for row in _checkpointed(tmp_path)["history"]] == [1, 2, 3]


def test_one_rank_under_torchrun_is_the_plain_loop(tmp_path):
    """torchrun with one process changes no number: the one-device run, bit for bit."""
    done = _torchrun(1, "train", str(tmp_path / "run"))
    assert done.returncode == 0, done.stderr[-3000:]
    torch.set_num_threads(1)
    _, history = train(_prepared(), _setup(), tmp_path / "plain.pt", lambda row: None, torch.device("cpu"),
                       chunk_images=8)
    assert torch.load(tmp_path / "run" / "history.pt")["history"] == history


def test_a_train_split_too_small_for_the_devices_is_refused_by_name():
    from pipeline.epoch import global_batch
    from pipeline.errors import InputError

    assert global_batch(256, 1000, Rank(0, 4)) == 256
    assert global_batch(256, 103, Rank(0, 4)) == 100  # the split, a multiple of the ranks
    with pytest.raises(InputError, match="train.devices"):
        global_batch(256, 7, Rank(0, 4))


def test_several_nodes_need_a_rendezvous(monkeypatch):
    from pipeline.distributed import torchrun_command
    from pipeline.errors import InputError

    one = torchrun_command("stages.train", ["gz2"], 4, 1, "survey.gz2.train")
    assert one[-4:] == ["--standalone", "--module", "stages.train", "gz2"] and "--nproc-per-node=4" in one
    monkeypatch.delenv("PET_RDZV_ENDPOINT", raising=False)
    with pytest.raises(InputError, match="survey.gz2.train.nodes.*PET_RDZV_ENDPOINT"):
        torchrun_command("stages.train", ["gz2"], 4, 2, "survey.gz2.train")
    monkeypatch.setenv("PET_RDZV_ENDPOINT", "node0:29400")
    two = torchrun_command("stages.train", ["gz2"], 4, 2, "survey.gz2.train")
    assert "--nnodes=2" in two and "--rdzv-backend=c10d" in two and "--standalone" not in two


def test_ranks_share_the_permutation_and_draw_their_own_augmentations():
    from pipeline.epoch import epoch_randomness

    cpu = torch.device("cpu")
    drawn = {r: epoch_randomness(7, 3, 50, Rank(r, 3), cpu) for r in range(3)}
    single_order, single_gen = epoch_randomness(7, 3, 50, Rank(), cpu)
    assert all((order == single_order).all() for order, _ in drawn.values())
    draws = {r: torch.rand(16, generator=gen) for r, (_, gen) in drawn.items()}
    assert torch.equal(draws[0], torch.rand(16, generator=single_gen))  # rank 0: the one-device stream
    assert not torch.equal(draws[0], draws[1]) and not torch.equal(draws[1], draws[2])
    again_order, again_gen = epoch_randomness(7, 3, 50, Rank(1, 3), cpu)  # a resumed epoch repeats
    assert (again_order == single_order).all() and torch.equal(torch.rand(16, generator=again_gen), draws[1])
