import numpy as np
import pytest

from pipeline.cross import subset_name, transfer_scores
from pipeline.evaluate import evaluate_representation


def _data(seed=0, n=120):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    feats = np.eye(4)[labels] * 3 + rng.normal(size=(n, 4))
    split = np.where(np.arange(n) % 5 == 0, "test", "train")
    return feats.astype(np.float32), labels, split


def test_all_classes_equals_the_evaluate_protocol():
    feats, labels, split = _data()
    classes = ["round", "elliptical", "edge_on", "spiral"]
    ours = transfer_scores(feats, labels, split, classes, classes, [5], 5)
    ref = evaluate_representation(feats, labels, split, [5], 5, classes)
    assert ours == {"knn": ref["knn"]["k5"], "knn_loo": ref["knn_loo"]["k5"], "nmi": ref["nmi"], "ari": ref["ari"]}


def test_subset_drops_the_excluded_class_from_bank_and_queries():
    feats, labels, split = _data()
    classes = ["round", "elliptical", "edge_on", "spiral"]
    keep = ["elliptical", "edge_on", "spiral"]
    ours = transfer_scores(feats, labels, split, classes, keep, [5], 5)
    rows = labels != 0
    ref = evaluate_representation(feats[rows], labels[rows] - 1, split[rows], [5], 5, keep)
    assert ours["knn"] == ref["knn"]["k5"] and ours["nmi"] == ref["nmi"]


def test_unknown_subset_class_is_named():
    feats, labels, split = _data()
    with pytest.raises(ValueError, match="'bar'"):
        transfer_scores(feats, labels, split, ["a", "b", "c", "d"], ["a", "bar"], [5], 5)


def test_subset_names():
    assert subset_name("sim_decals", None) == "sim_decals"
    assert subset_name("sim_decals", "3") == "sim_decals_3"
