import numpy as np
import pandas as pd
import pytest
import torch

from pipeline.config import parse
from pipeline.params import Evaluate, Image, Model, Train, load_params
from pipeline.prepare import Prepared
from pipeline.train import Setup, epoch_lr, train

TINY_MODEL = Model(stem_channels=4, stem_kernel=3, stem_padding=1, cnn_channels=[8], vit_patch=8, vit_dim=16,
                   vit_depth=1, vit_heads=2, vit_mlp_dim=16, branch_dim=8, projector_hidden=16, projection_dim=8)


def _prepared(n: int = 40, side: int = 20) -> Prepared:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 60, (n, side, side, 3), dtype=np.uint8)
    labels = np.arange(n) % 2
    images[labels == 1, 6:14, 6:14] += 150  # class 1: a bright square in the middle
    split = np.array((["train"] * 8 + ["val", "test"]) * (n // 10))
    index = pd.DataFrame({"row": np.arange(n), "id": [str(i) for i in range(n)], "label": labels.astype(str),
                          "label_id": labels, "split": split})
    return Prepared(images=images, index=index, mean=(0.2,) * 3, std=(0.2,) * 3)


def _setup(epochs: int = 3) -> Setup:
    p = load_params()
    tr = parse(Train, {"model": "tiny", "augment": "paper", "epochs": epochs, "batch_size": 8, "lr": 0.05, "lr_final_factor": 1e-3,
                       "momentum": 0.9, "weight_decay": 1e-4, "temperature": 0.2, "threads": 1}, "train")
    image = parse(Image, {"native_size": 20, "centre_crop": 20, "crop": 16, "input_size": 16,
                          "max_corrupt_fraction": 0}, "image")
    ev = parse(Evaluate, {"ks": [1, 3], "k": 3, "representation": "backbone", "pixel_baseline_size": 4,
                          "batch_size": 16}, "evaluate")
    return Setup(train=tr, model=TINY_MODEL, augment=p.augment["paper"], image=image, evaluate=ev,
                 classes=["0", "1"], seed=5)


def _run(tmp_path, setup, log=lambda row: None):
    return train(_prepared(), setup, tmp_path / "ckpt.pt", log, device=torch.device("cpu"))


def test_identical_runs_give_identical_models_and_history(tmp_path):
    m1, h1 = _run(tmp_path / "a", _setup())
    m2, h2 = _run(tmp_path / "b", _setup())
    assert h1 == h2 and len(h1) == 3
    assert {"loss", "lr", "val_knn", "val_nmi", "val_ari"} <= set(h1[0])
    s1, s2 = m1.state_dict(), m2.state_dict()
    assert all(torch.equal(s1[k], s2[k]) for k in s1)


def test_interrupted_run_resumes_to_the_same_result(tmp_path):
    _, full = _run(tmp_path / "full", _setup())

    class Killed(Exception):
        pass

    def die_in_epoch_3(row):
        if row["epoch"] == 3:
            raise Killed  # before epoch 3's checkpoint: the checkpoint holds epochs 1-2

    with pytest.raises(Killed):
        _run(tmp_path / "cut", _setup(), die_in_epoch_3)
    replayed = []
    model, history = _run(tmp_path / "cut", _setup(), replayed.append)
    assert history == full and replayed == full  # the first two rows come from the checkpoint
    m_full, _ = _run(tmp_path / "full2", _setup())
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), m_full.state_dict().values()))


def test_checkpoint_of_other_settings_is_not_resumed(tmp_path):
    _run(tmp_path, _setup(epochs=2))
    # Same folder, different epochs -> different fingerprint -> starts from scratch (logs 3 rows fresh).
    rows = []
    _, history = _run(tmp_path, _setup(epochs=3), rows.append)
    assert len(history) == 3 and history[0]["lr"] == pytest.approx(0.05)


def test_cosine_schedule_ends_at_the_final_factor():
    tr = _setup(epochs=4).train
    lrs = [epoch_lr(e, tr) for e in range(5)]
    assert lrs[0] == pytest.approx(0.05) and lrs[4] == pytest.approx(0.05e-3)
    assert all(a > b for a, b in zip(lrs, lrs[1:]))
