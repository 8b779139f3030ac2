import dataclasses

import faiss
import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors

from pipeline.ablation import scores as ablation_scores
from pipeline.config import ConfigError
from pipeline.cross import transfer_scores
from pipeline.evaluate import evaluate_representation
from pipeline.knn import build_index, knn_predict, n_lists, neighbours, vote
from pipeline.label_efficiency import knn_accuracy
from pipeline.metrics import knn_scores
from pipeline.params import Knn, KnnHnsw, KnnIvf


def _blobs(seed: int, n: int, n_classes: int, d: int = 16):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes, d))
    labels = rng.integers(0, n_classes, n)
    return (centres[labels] + rng.normal(scale=1.5, size=(n, d))).astype(np.float32), labels


@pytest.mark.parametrize("k", [1, 4, 5, 10, 15, 20])
def test_faiss_knn_matches_sklearn(k):
    x, y = _blobs(0, 400, 4)
    bank, qx = x[:300], x[300:]
    ours = knn_predict(bank, y[:300], qx, [k], 4)[0][k]
    # sklearn: cosine metric, uniform weights, ties to the lowest label (scipy mode): same rule.
    sk = KNeighborsClassifier(n_neighbors=k, metric="cosine", algorithm="brute").fit(bank, y[:300])
    assert (ours == sk.predict(qx)).mean() == 1.0


def test_leave_one_out_matches_sklearn_without_self():
    x, y = _blobs(1, 200, 3)
    k = 7
    ours = knn_predict(x, y, x, [k], 3, exclude_self=True)[0][k]
    sk = KNeighborsClassifier(n_neighbors=k + 1, metric="cosine", algorithm="brute").fit(x, y)
    idx = sk.kneighbors(x, return_distance=False)
    expected = []
    for i, row in enumerate(idx):
        row = [j for j in row if j != i][:k]
        expected.append(np.bincount(y[row], minlength=3).argmax())
    assert (ours == np.array(expected)).all()


def test_self_is_never_its_own_neighbour():
    x, _ = _blobs(2, 50, 2)
    idx, _ = neighbours(x, x, 5, exclude_self=True)
    assert not (idx == np.arange(50)[:, None]).any()


def test_ties_go_to_lowest_class():
    assert vote(np.array([[2, 1, 2, 1], [0, 3, 3, 0], [1, 1, 2, 2]]), 4).tolist() == [1, 0, 1]


def test_k_larger_than_bank_is_an_error():
    x, y = _blobs(3, 5, 2)
    with pytest.raises(ValueError, match="k=9"):
        knn_predict(x, y, x, [9], 2)


# --- the approximate index above knn.approx_above (issue 11) ----------------------------------

# Deliberately coarse settings, so that the approximate index misses some neighbours: the tests
# then check the reported recall, not an index that happens to be exact.
APPROX = Knn(approx_above=500, index="ivf", ivf=KnnIvf(nlist=24, nprobe=2, train_per_list=39),
             hnsw=KnnHnsw(m=8, ef_construction=16, ef_search=12), recall_sample=10_000, query_chunk=97)
INDEXES = [APPROX, dataclasses.replace(APPROX, index="hnsw")]


def _clustered(seed: int, n: int, n_clusters: int = 40, d: int = 32):
    """Many overlapping clusters, labelled by 4 classes (10 clusters each): embeddings-like."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, d))
    cluster = rng.integers(0, n_clusters, n)
    return (centres[cluster] + rng.normal(scale=1.0, size=(n, d))).astype(np.float32), cluster % 4


def _exact(bank: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """scikit-learn's brute-force cosine neighbours (Q, k), independent of faiss."""
    return NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute").fit(bank).kneighbors(
        queries, return_distance=False)


def _overlap(approx: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(e)) for a, e in zip(approx, exact)])) / exact.shape[1]


@pytest.mark.parametrize("cfg", INDEXES, ids=lambda c: c.index)
def test_approximate_search_reports_its_true_recall(cfg):
    x, _ = _clustered(4, 3000)
    bank, queries, k = x[:2500], x[2500:], 10
    idx, recall = neighbours(bank, queries, k, search=cfg)
    true = _overlap(idx, _exact(bank, queries, k))
    assert (recall.index, recall.k, recall.sample) == (cfg.index, k, 500)  # the sample: every query
    assert recall.recall_at_k == pytest.approx(true, abs=1e-3)
    assert 0.5 < true < 0.999  # approximate indeed, and still useful


@pytest.mark.parametrize("cfg", INDEXES, ids=lambda c: c.index)
def test_sampled_recall_is_the_recall_of_all_queries(cfg):
    x, _ = _clustered(5, 4500)
    bank, queries, k = x[:2500], x[2500:], 10
    idx, recall = neighbours(bank, queries, k, search=dataclasses.replace(cfg, recall_sample=400))
    assert recall.sample == 400
    assert _overlap(idx, _exact(bank, queries, k)) >= recall.recall_at_k - 0.05


@pytest.mark.parametrize("cfg", INDEXES, ids=lambda c: c.index)
def test_approximate_predictions_agree_with_sklearn(cfg):
    x, y = _clustered(6, 3000)
    bank, queries, k = x[:2500], x[2500:], 15
    preds, recall = knn_predict(bank, y[:2500], queries, [1, k], 4, search=cfg)
    sk = KNeighborsClassifier(n_neighbors=k, metric="cosine", algorithm="brute").fit(bank, y[:2500])
    assert recall.k == k
    assert (preds[k] == sk.predict(queries)).mean() >= 0.9


@pytest.mark.parametrize("cfg", INDEXES, ids=lambda c: c.index)
def test_approximate_leave_one_out_never_returns_self(cfg):
    x, _ = _clustered(7, 1200)
    k = 7
    idx, recall = neighbours(x, x, k, exclude_self=True, search=cfg)
    assert idx.shape == (1200, k)
    assert not (idx == np.arange(1200)[:, None]).any()
    exact = [[j for j in row if j != i][:k] for i, row in enumerate(_exact(x, x, k + 1))]
    assert (recall.k, recall.sample) == (k, 1200)
    assert recall.recall_at_k == pytest.approx(_overlap(idx, np.array(exact)), abs=1e-3)


def test_at_or_below_approx_above_the_search_is_exactly_todays():
    x, _ = _clustered(8, 800)
    bank, queries = x[:500], x[500:]
    today, none = neighbours(bank, queries, 10)
    idx, recall = neighbours(bank, queries, 10, search=APPROX)  # 500 bank items: not above 500
    assert none is None and recall is None
    assert np.array_equal(idx, today)
    loo, recall = neighbours(bank, bank, 10, exclude_self=True, search=APPROX)
    assert recall is None and np.array_equal(loo, neighbours(bank, bank, 10, exclude_self=True)[0])


def test_approximate_search_is_deterministic():
    x, _ = _clustered(9, 3000)
    first = neighbours(x[:2500], x[2500:], 10, search=APPROX)
    again = neighbours(x[:2500], x[2500:], 10, search=APPROX)
    assert np.array_equal(first[0], again[0]) and first[1] == again[1]


def test_scores_report_the_recall_only_when_approximate():
    x, y = _clustered(10, 1400)
    small = dataclasses.replace(APPROX, approx_above=1000)
    exact = knn_scores(x[:1000], y[:1000], x[1000:], y[1000:], [5, 10], 5, list("abcd"), search=small)
    assert "search" not in exact
    approx = knn_scores(x[:1001], y[:1001], x[1001:], y[1001:], [5, 10], 5, list("abcd"), search=small)
    assert set(approx["search"]) == {"index", "recall_at_k", "k", "sample"}
    assert approx["search"]["k"] == 10 and approx["search"]["sample"] == 399


def test_evaluation_reports_the_recall_of_each_approximate_protocol():
    x, y = _clustered(11, 3000)
    split = np.array(["train"] * 2000 + ["val"] * 300 + ["test"] * 700)
    r = evaluate_representation(x, y, split, [5], 5, list("abcd"), search=dataclasses.replace(APPROX, approx_above=600))
    assert set(r["search"]) == {"knn", "knn_val", "knn_loo"}  # the test split (700) is a bank too
    r = evaluate_representation(x, y, split, [5], 5, list("abcd"), search=dataclasses.replace(APPROX, approx_above=800))
    assert set(r["search"]) == {"knn", "knn_val"}
    assert "search" not in evaluate_representation(x, y, split, [5], 5, list("abcd"))


def test_too_few_probed_neighbours_is_an_error_naming_nprobe():
    x, _ = _clustered(12, 1200)
    cfg = dataclasses.replace(APPROX, ivf=KnnIvf(nlist=200, nprobe=1, train_per_list=39))
    with pytest.raises(ConfigError, match=r"knn\.ivf\.nprobe"):
        neighbours(x[:1000], x[1000:], 20, search=cfg)


def test_more_lists_than_bank_items_is_an_error_naming_nlist():
    x, _ = _clustered(13, 700)
    cfg = dataclasses.replace(APPROX, ivf=KnnIvf(nlist=800, nprobe=1, train_per_list=39))
    with pytest.raises(ConfigError, match=r"knn\.ivf\.nlist: 800 lists"):
        neighbours(x[:600], x[600:], 5, search=cfg)


@pytest.mark.parametrize("cfg", INDEXES, ids=lambda c: c.index)
def test_the_index_is_the_configured_faiss_inner_product_index(cfg):
    x, _ = _clustered(14, 1000)
    index = build_index(x, cfg)
    assert index.metric_type == faiss.METRIC_INNER_PRODUCT and index.ntotal == 1000
    if cfg.index == "ivf":
        assert isinstance(index, faiss.IndexIVFFlat) and (index.nlist, index.nprobe) == (24, 2)
    else:
        assert isinstance(index, faiss.IndexHNSWFlat)
        assert (index.hnsw.efConstruction, index.hnsw.efSearch) == (16, 12)
    assert n_lists(dataclasses.replace(cfg, ivf=KnnIvf(nlist=0, nprobe=1, train_per_list=39)), 10_000) == 400


def test_the_kNN_callers_pass_the_search_on():
    x, y = _clustered(15, 2000)
    split = np.array(["train"] * 1500 + ["test"] * 500)
    cfg = dataclasses.replace(APPROX, approx_above=1000)
    assert transfer_scores(x, y, split, list("abcd"), list("abcd"), [5], 5, search=cfg)["search"]["knn"]["k"] == 5
    emb = {"projection": x, "label_id": y, "split": split}
    assert ablation_scores(emb, "projection", [5], 5, list("abcd"), search=cfg)["search"]["sample"] == 500
    acc, recall = knn_accuracy(x[:1500], y[:1500], x[1500:], y[1500:], 5, 4, search=cfg)
    assert recall["index"] == "ivf" and acc > 50
    assert knn_accuracy(x[:1000], y[:1000], x[1500:], y[1500:], 5, 4, search=cfg)[1] is None
