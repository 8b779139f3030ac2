"""The supervised baseline of paper Fig. 7 (pipeline/supervised.py) on toy images it must learn."""
import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

from pipeline.config import parse
from pipeline.metrics import accuracy
from pipeline.params import Model, Supervised, load_params
from pipeline.supervised import Setup, predict, schedule, train_classifier

CPU = torch.device("cpu")
TINY_MODEL = Model(stem_channels=4, stem_kernel=3, stem_padding=1, cnn_channels=[8], vit_patch=8, vit_dim=16,
                   vit_depth=1, vit_heads=2, vit_mlp_dim=16, branch_dim=8, projector_hidden=16, projection_dim=8)
SIDE, INPUT = 20, 16  # stored image side, network input (the centred / random window)


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: the trained weights depend on the thread count (reduction order), so
    the outcomes these tests check are the same on every machine; and it is the fastest here."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def toy_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Dark noise; class 1 has a bright square in the middle, which survives every augmentation
    of the paper's set (flips, rotation, crops, colour jitter, grayscale)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 60, (n, SIDE, SIDE, 3), dtype=np.uint8)
    labels = rng.permutation(np.arange(n) % 2)
    images[labels == 1, 6:14, 6:14] += 150
    return images, labels


def tiny_setup(epochs: int = 4, min_steps: int = 1, batch_size: int = 16, n_classes: int = 2, seed: int = 3) -> Setup:
    cfg = parse(Supervised, {"epochs": epochs, "min_steps": min_steps, "batch_size": batch_size, "lr": 0.05,
                             "momentum": 0.9, "weight_decay": 5e-4}, "label_efficiency.supervised")
    return Setup(cfg=cfg, model=TINY_MODEL, augment=load_params().augment["paper"], input_size=INPUT,
                 mean=(0.2,) * 3, std=(0.2,) * 3, n_classes=n_classes, seed=seed)


def _test_accuracy(train_labels_of, setup: Setup | None = None) -> float:
    images, labels = toy_images(64, seed=0)
    test_images, test_labels = toy_images(40, seed=1)
    setup = setup or tiny_setup()
    model = train_classifier(images, train_labels_of(labels), setup, CPU)
    return accuracy(predict(model, test_images, setup, 16, CPU), test_labels)


def test_learns_a_separable_toy_set_in_a_few_steps():
    assert _test_accuracy(lambda y: y) >= 95  # 16 SGD steps


def _independent_of_class(labels: np.ndarray) -> np.ndarray:
    """Labels that say nothing about the image: within each true class, half 0 and half 1."""
    rng = np.random.default_rng(7)
    out = np.empty_like(labels)
    for c in (0, 1):
        rows = rng.permutation(np.flatnonzero(labels == c))
        out[rows] = np.arange(len(rows)) % 2
    return out


def test_follows_the_labels_it_is_given():
    """It learns from the labels, not from the images alone: labels swapped between the classes
    give the swapped answer on the test set, and labels independent of the images do not beat
    chance (50%) by more than the noise of 40 test images (a model trained on nothing but such
    labels has no reason to land on either side of chance, so only the upper side is checked)."""
    assert _test_accuracy(lambda y: 1 - y) <= 5
    assert _test_accuracy(_independent_of_class) <= 75


def test_identical_runs_give_identical_weights():
    images, labels = toy_images(32, seed=0)
    a = train_classifier(images, labels, tiny_setup(epochs=2), CPU).state_dict()
    b = train_classifier(images, labels, tiny_setup(epochs=2), CPU).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def _steps_and_rates(n: int, setup: Setup) -> tuple[list[int], list[float]]:
    """Rows per forward pass (seen by the head, the only Linear with n_classes outputs) and the
    learning rate of every SGD step of one run."""
    images, labels = toy_images(n, seed=0)
    batches, rates = [], []
    step_hook = register_optimizer_step_pre_hook(lambda opt, args, kwargs: rates.append(opt.param_groups[0]["lr"]))
    forward_hook = torch.nn.modules.module.register_module_forward_pre_hook(
        lambda mod, args: batches.append(args[0].shape[0])
        if isinstance(mod, torch.nn.Linear) and mod.out_features == setup.n_classes else None)
    try:
        train_classifier(images, labels, setup, CPU)
    finally:
        step_hook.remove()
        forward_hook.remove()
    return batches, rates


@pytest.mark.parametrize("n, epochs, min_steps, batch, expect_batch, expect_steps", [
    (40, 3, 1, 16, 16, 3 * 2),        # epochs rule: 40 // 16 = 2 steps per epoch, the ragged 8 dropped
    (40, 3, 11, 16, 16, 6 * 2),       # min_steps rule: ceil(11 / 2) = 6 epochs
    (10, 2, 5, 16, 10, 5),            # smaller than a batch: all 10 in one batch, 5 epochs of 1 step
])
def test_step_count_batch_and_cosine_rate(n, epochs, min_steps, batch, expect_batch, expect_steps):
    setup = tiny_setup(epochs=epochs, min_steps=min_steps, batch_size=batch)
    assert schedule(n, setup.cfg)[0] == expect_batch
    batches, rates = _steps_and_rates(n, setup)
    assert batches == [expect_batch] * expect_steps
    lr = setup.cfg.lr
    assert rates == pytest.approx([lr * (1 + math.cos(math.pi * t / expect_steps)) / 2
                                   for t in range(expect_steps)], rel=1e-9)


def test_setup_fingerprint_changes_with_settings_data_and_device():
    images, labels = toy_images(8, seed=0)
    base = tiny_setup()
    fp = base.fingerprint([images, labels], CPU)
    assert fp == tiny_setup().fingerprint([images, labels], CPU)
    others = [replace(base, cfg=replace(base.cfg, lr=0.1)).fingerprint([images, labels], CPU),
              replace(base, seed=4).fingerprint([images, labels], CPU),
              base.fingerprint([images, 1 - labels], CPU),
              base.fingerprint([images[:, ::-1], labels], CPU),
              base.fingerprint([images, labels], torch.device("cuda"))]
    assert fp not in others and len(set(others)) == len(others)
