import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from pipeline.knn import knn_predict, neighbours, vote


def _blobs(seed: int, n: int, n_classes: int, d: int = 16):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes, d))
    labels = rng.integers(0, n_classes, n)
    return (centres[labels] + rng.normal(scale=1.5, size=(n, d))).astype(np.float32), labels


@pytest.mark.parametrize("k", [1, 4, 5, 10, 15, 20])
def test_faiss_knn_matches_sklearn(k):
    x, y = _blobs(0, 400, 4)
    bank, qx = x[:300], x[300:]
    ours = knn_predict(bank, y[:300], qx, [k], 4)[k]
    # sklearn: cosine metric, uniform weights, ties to the lowest label (scipy mode): same rule.
    sk = KNeighborsClassifier(n_neighbors=k, metric="cosine", algorithm="brute").fit(bank, y[:300])
    assert (ours == sk.predict(qx)).mean() == 1.0


def test_leave_one_out_matches_sklearn_without_self():
    x, y = _blobs(1, 200, 3)
    k = 7
    ours = knn_predict(x, y, x, [k], 3, exclude_self=True)[k]
    sk = KNeighborsClassifier(n_neighbors=k + 1, metric="cosine", algorithm="brute").fit(x, y)
    idx = sk.kneighbors(x, return_distance=False)
    expected = []
    for i, row in enumerate(idx):
        row = [j for j in row if j != i][:k]
        expected.append(np.bincount(y[row], minlength=3).argmax())
    assert (ours == np.array(expected)).all()


def test_self_is_never_its_own_neighbour():
    x, _ = _blobs(2, 50, 2)
    idx = neighbours(x, x, 5, exclude_self=True)
    assert not (idx == np.arange(50)[:, None]).any()


def test_ties_go_to_lowest_class():
    assert vote(np.array([[2, 1, 2, 1], [0, 3, 3, 0], [1, 1, 2, 2]]), 4).tolist() == [1, 0, 1]


def test_k_larger_than_bank_is_an_error():
    x, y = _blobs(3, 5, 2)
    with pytest.raises(ValueError, match="k=9"):
        knn_predict(x, y, x, [9], 2)
