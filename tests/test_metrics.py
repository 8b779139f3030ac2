"""Scores of kNN predictions against scikit-learn, computed from scikit-learn's own kNN."""
import numpy as np
import pytest
from sklearn.metrics import (accuracy_score, adjusted_rand_score, confusion_matrix, normalized_mutual_info_score,
                             recall_score)
from sklearn.neighbors import KNeighborsClassifier

from pipeline.metrics import knn_scores

CLASSES = ["elliptical", "edge_on", "spiral"]


def _blobs(seed: int, n: int, d: int = 8):
    """Three overlapping classes of unequal size: errors are many and asymmetric."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, d))
    labels = rng.choice(3, n, p=[0.5, 0.3, 0.2])
    return (centres[labels] + rng.normal(scale=1.2, size=(n, d))).astype(np.float32), labels


def test_scores_match_scikit_learn():
    x, y = _blobs(0, 500)
    bank, bank_y, queries, query_y = x[:350], y[:350], x[350:], y[350:]
    ks, k = [1, 7, 15], 7  # k neither the first nor the last of ks
    scores = knn_scores(bank, bank_y, queries, query_y, ks, k, CLASSES)

    def sk_predict(kk):
        return KNeighborsClassifier(kk, metric="cosine", algorithm="brute").fit(bank, bank_y).predict(queries)

    for kk in ks:
        assert scores["knn"][f"k{kk}"] == pytest.approx(accuracy_score(query_y, sk_predict(kk)) * 100, abs=1e-4)
    pred = sk_predict(k)
    assert (scores["pred"] == pred).all()
    assert scores["nmi"] == pytest.approx(normalized_mutual_info_score(query_y, pred), abs=1e-6)
    assert scores["ari"] == pytest.approx(adjusted_rand_score(query_y, pred), abs=1e-6)
    cm = confusion_matrix(query_y, pred, labels=[0, 1, 2])  # rows: actual, columns: predicted
    assert not (cm == cm.T).all()  # a transposed matrix would be noticed
    assert scores["confusion"] == cm.tolist()
    recall = recall_score(query_y, pred, labels=[0, 1, 2], average=None) * 100
    assert scores["recall"] == {c: pytest.approx(r, abs=1e-4) for c, r in zip(CLASSES, recall)}
    assert len(set(recall)) == 3 and 0 < scores["nmi"] < 1 and 0 < scores["ari"] < 1


def test_confusion_rows_are_actual_classes_and_an_absent_class_has_no_recall():
    """Worked by hand: every query of class 0 sits among class-1 bank items."""
    bank = np.array([[1, 0], [1, 0.1], [0, 1], [0.1, 1], [0.05, 1]], dtype=np.float32)
    bank_labels = np.array([0, 0, 1, 1, 1])
    queries = np.array([[0, 1], [0.02, 1], [1, 0.05]], dtype=np.float32)
    query_labels = np.array([0, 0, 0])
    scores = knn_scores(bank, bank_labels, queries, query_labels, [1], 1, ["a", "b", "c"])
    assert scores["pred"].tolist() == [1, 1, 0]
    assert scores["confusion"] == [[1, 2, 0], [0, 0, 0], [0, 0, 0]]
    assert scores["recall"] == {"a": pytest.approx(100 / 3, abs=1e-4), "b": None, "c": None}
    assert scores["knn"] == {"k1": pytest.approx(100 / 3, abs=1e-4)}
