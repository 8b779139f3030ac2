"""Contrastive vs supervised on few labels (pipeline/label_efficiency.py, paper Fig. 7): the label
subsets, the kNN and linear probes against scikit-learn, and the resume of finished sizes."""
import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from torch.optim.optimizer import register_optimizer_step_pre_hook

from pipeline.config import ConfigError, parse
from pipeline.errors import InputError
from pipeline.label_efficiency import LINEAR_MAX_ITER, balanced_subsets, class_shares, curve, notes, plot_curve
from pipeline.params import LabelEfficiency
from pipeline.prepare import Prepared
from tests.test_supervised import CPU, SIDE, one_thread, tiny_setup  # noqa: F401 (one_thread: autouse fixture)

CLASSES = ["a", "b", "c"]
#: Train galaxies per class: class c has only 3, fewer than most budgets' share.
TRAIN_COUNTS = (30, 24, 3)


def _labels(counts) -> np.ndarray:
    return np.repeat(np.arange(len(counts)), counts)


def _data(seed: int = 0) -> tuple[Prepared, np.ndarray]:
    """Prepared toy galaxies (train counts TRAIN_COUNTS, 12 test, 4 val) and a 6-d float64
    'representation' whose class means differ, noisy enough that the probes make mistakes."""
    rng = np.random.default_rng(seed)
    labels = np.concatenate([_labels(TRAIN_COUNTS), np.arange(12) % 3, np.arange(4) % 3])
    split = np.array(["train"] * sum(TRAIN_COUNTS) + ["test"] * 12 + ["val"] * 4)
    features = rng.normal(size=(len(labels), 6)) + 1.2 * np.eye(6)[labels]
    images = rng.integers(0, 60, (len(labels), SIDE, SIDE, 3), dtype=np.uint8)
    images[labels == 1, 6:14, 6:14] += 150
    index = pd.DataFrame({"id": [str(i) for i in range(len(labels))], "label_id": labels, "split": split})
    return Prepared(images=images, index=index, mean=(0.2,) * 3, std=(0.2,) * 3), features


def _params(sizes=(3, 9, 30, 200), k=4, c=0.5) -> LabelEfficiency:
    return parse(LabelEfficiency, {
        "surveys": ["toy"], "sizes": list(sizes), "k": k, "representation": "projection", "linear_c": c,
        "supervised": {"epochs": 1, "min_steps": 2, "batch_size": 16, "lr": 0.05, "momentum": 0.9,
                       "weight_decay": 5e-4}}, "label_efficiency")


def _curve(tmp_path, le=None, say=lambda line: None, setup=None):
    prepared, features = _data()
    le = le or _params()
    setup = setup or replace(tiny_setup(n_classes=3), cfg=le.supervised)
    return curve(prepared, features, CLASSES, le, setup, tmp_path / "ckpt", CPU, "toy", say)


def test_class_shares_spread_the_remainder_over_the_first_classes():
    assert class_shares(10, 4) == [3, 3, 2, 2]
    assert class_shares(8, 4) == [2, 2, 2, 2]


def test_subsets_are_class_balanced_nested_and_seeded():
    labels = np.random.default_rng(1).permutation(_labels((50, 40, 30)))
    sizes = [3, 10, 30, 61, 90]
    subsets = balanced_subsets(labels, CLASSES, sizes, seed=5)
    for size, s in zip(sizes, subsets):
        assert np.bincount(labels[s.rows], minlength=3).tolist() == class_shares(size, 3)
        assert len(set(s.rows.tolist())) == len(s.rows) == size and not s.capped
    for small, large in zip(subsets, subsets[1:]):
        assert set(small.rows.tolist()) < set(large.rows.tolist())
    again = balanced_subsets(labels, CLASSES, sizes, seed=5)
    other = balanced_subsets(labels, CLASSES, sizes, seed=6)
    assert all(np.array_equal(a.rows, b.rows) for a, b in zip(subsets, again))
    assert not np.array_equal(subsets[2].rows, other[2].rows)


def test_a_small_class_is_capped_and_said_and_a_large_budget_is_the_whole_split():
    labels = _labels(TRAIN_COUNTS)
    capped, whole = balanced_subsets(labels, CLASSES, [30, 100], seed=0)
    assert np.bincount(labels[capped.rows], minlength=3).tolist() == [10, 10, 3]
    assert capped.capped == {"c": {"asked": 10, "available": 3}} and not capped.whole_split
    assert notes(capped, "toy") == ["toy: 30 labels: class 'c' asked 10, available 3 in the train split: capped at 3"]
    assert whole.whole_split and whole.rows.tolist() == list(range(len(labels)))
    assert whole.capped == {"a": {"asked": 34, "available": 30}, "b": {"asked": 33, "available": 24},
                            "c": {"asked": 33, "available": 3}}
    assert notes(whole, "toy")[0] == "toy: 100 labels asked, the train split has 57: using all of it"


def test_probes_match_scikit_learn_and_the_metrics_say_what_was_used(tmp_path):
    said = []
    results = _curve(tmp_path, say=said.append)
    prepared, features = _data()
    split, labels = prepared.index["split"].to_numpy(), prepared.index["label_id"].to_numpy()
    train, test = np.flatnonzero(split == "train"), split == "test"
    le = _params()
    ties = 0
    for size, subset in zip(le.sizes, balanced_subsets(labels[train], CLASSES, list(le.sizes), seed=3)):
        r = results[str(size)]
        rows = train[subset.rows]
        bank, y = features[rows], labels[rows]
        k = min(le.k, len(rows))  # the 3-galaxy budget votes with all 3
        knn = KNeighborsClassifier(k, metric="cosine", algorithm="brute").fit(bank, y)
        assert r["knn"] == round(float(np.mean(knn.predict(features[test]) == labels[test])) * 100, 4), size
        votes = y[knn.kneighbors(features[test], return_distance=False)]
        counts = np.stack([(votes == c).sum(1) for c in range(3)], 1)
        ties += int(((counts == counts.max(1, keepdims=True)).sum(1) > 1).sum())
        mean, std = bank.mean(0), bank.std(0)
        probe = LogisticRegression(C=le.linear_c, max_iter=LINEAR_MAX_ITER).fit((bank - mean) / std, y)
        linear = np.mean(probe.predict((features[test] - mean) / std) == labels[test])
        assert r["linear"] == round(float(linear) * 100, 4), size
        assert r["n_used"] == len(rows) and r["capped"] == subset.capped
        assert 0 <= r["supervised"] <= 100
    assert ties > 0  # the vote's tie rule (lowest class id, as scikit-learn's) was exercised
    assert list(results) == ["3", "9", "30", "200"] and [r["n_used"] for r in results.values()] == [3, 9, 23, 57]
    assert "toy: 30 labels: class 'c' asked 10, available 3 in the train split: capped at 3" in said
    plot_curve(results, "toy", le.k, tmp_path / "curve.png")
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


class Stop(Exception):
    pass


def _steps_of(run) -> int:
    steps = []
    hook = register_optimizer_step_pre_hook(lambda opt, args, kwargs: steps.append(1))
    try:
        run()
    finally:
        hook.remove()
    return len(steps)


def test_an_interrupted_stage_resumes_without_training_finished_sizes_again(tmp_path):
    le = _params(sizes=(9, 30))
    full_steps = _steps_of(lambda: _curve(tmp_path / "full", le))
    full = _curve(tmp_path / "full2", le)

    def stop_after_first_size(line):
        if "supervised" in line:  # the first size's result line: its result is saved by now
            raise Stop

    with pytest.raises(Stop):
        _curve(tmp_path / "cut", le, say=stop_after_first_size)
    saved = json.loads((tmp_path / "cut" / "ckpt" / "9.json").read_text())
    assert saved["supervised"] == full["9"]["supervised"] and not (tmp_path / "cut" / "ckpt" / "30.json").exists()
    said, resumed = [], {}
    resumed_steps = _steps_of(lambda: resumed.update(_curve(tmp_path / "cut", le, say=said.append)))
    assert resumed == full
    assert any(line.startswith("toy: 9 labels: supervised") and "(reused)" in line for line in said)
    # only the 30-label budget (23 galaxies: 1 step per epoch, min_steps 2) trains again
    assert full_steps == 2 + 2 and resumed_steps == 2
    # other settings (here the learning rate) do not reuse the saved result
    other = _params(sizes=(9, 30))
    other = replace(other, supervised=replace(other.supervised, lr=0.1))
    assert _steps_of(lambda: _curve(tmp_path / "cut", other)) == full_steps


def test_budgets_beyond_the_train_split_train_once(tmp_path):
    le = _params(sizes=(100, 200))  # both the whole split: 57 galaxies, one epoch of 3 steps of 16
    said = []
    steps = _steps_of(lambda: _curve(tmp_path, le, say=said.append))
    assert steps == 3 and any("57 labels: supervised" in line and "(reused)" in line for line in said)


def test_bad_budgets_and_missing_splits_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"label_efficiency.sizes.0: 2 labels cannot cover the 3 classes of toy"):
        _curve(tmp_path, _params(sizes=(2, 9)))
    with pytest.raises(ConfigError, match=r"label_efficiency.sizes: must be increasing"):
        _params(sizes=(30, 9))
    prepared, features = _data()
    prepared.index["split"] = prepared.index["split"].replace("test", "val")
    with pytest.raises(InputError, match=r"toy: .* 57 train and 0 test"):
        curve(prepared, features, CLASSES, _params(), tiny_setup(n_classes=3), tmp_path, CPU, "toy")
