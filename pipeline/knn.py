"""faiss kNN classification on learned representations (paper Sect. 4.2).

Cosine similarity (inner product of L2-normalised vectors, paper Eq. 1), majority vote over
the k nearest bank items, ties to the lowest class id (the reference code's rule, and
scikit-learn's).

The search is exact (faiss IndexFlatIP) unless params ``knn`` is given and the bank holds more
than ``knn.approx_above`` items: then an approximate faiss index (IVF or HNSW) answers, and its
recall@k against the exact search is measured on a seeded sample of the queries and returned.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import faiss
import numpy as np

from pipeline.config import ConfigError
from pipeline.params import Knn

#: ``knn.ivf.nlist: 0`` means round(LISTS_PER_SQRT_N * sqrt(bank size)), the low end of faiss's
#: guideline (4 to 16 sqrt(n)): fewer lists train faster, which dominates on a few CPU cores.
LISTS_PER_SQRT_N = 4
#: The seeded samples (IVF training rows, recall queries) only have to be the same on every
#: run; any fixed seed does.
SAMPLE_SEED = 0


@dataclass(frozen=True)
class Recall:
    """recall@k of the approximate search against the exact one on ``sample`` queries: the
    share of each query's exact top-k that the approximate top-k holds, averaged."""

    index: str
    recall_at_k: float
    k: int
    sample: int

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _normalised(x: np.ndarray) -> np.ndarray:
    x = np.array(x, dtype=np.float32)  # a copy: faiss normalises in place
    faiss.normalize_L2(x)
    return x


def _drop_self(idx: np.ndarray, own: np.ndarray) -> np.ndarray:
    """(Q, k+1) neighbours of bank rows ``own`` -> (Q, k) without each row itself."""
    is_self = idx == own[:, None]
    # Drop the query itself; if an exact duplicate (or an approximate index) left it out of the
    # list, drop the last.
    is_self[~is_self.any(1), -1] = True
    return idx[~is_self].reshape(len(idx), idx.shape[1] - 1)


def n_lists(cfg: Knn, n_bank: int) -> int:
    """IVF inverted lists for a bank of ``n_bank`` items (``knn.ivf.nlist``, 0 = the sqrt rule)."""
    return cfg.ivf.nlist or max(1, round(LISTS_PER_SQRT_N * math.sqrt(n_bank)))


def build_index(bank: np.ndarray, cfg: Knn) -> faiss.Index:
    """The approximate inner-product index ``cfg.index`` holding the (normalised) ``bank``."""
    n, d = bank.shape
    if cfg.index == "hnsw":
        index = faiss.IndexHNSWFlat(d, cfg.hnsw.m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = cfg.hnsw.ef_construction
        index.hnsw.efSearch = cfg.hnsw.ef_search
    else:
        nlist = n_lists(cfg, n)
        if nlist > n:
            raise ConfigError(f"knn.ivf.nlist: {nlist} lists need at least as many bank items, the bank has {n}")
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
        index.nprobe = min(cfg.ivf.nprobe, nlist)
        n_train = min(n, nlist * cfg.ivf.train_per_list)
        rows = np.sort(np.random.default_rng(SAMPLE_SEED).choice(n, n_train, replace=False))
        index.train(bank[rows])  # spherical k-means: faiss's default for an inner-product IVF
    index.add(bank)
    return index


def search_chunked(index: faiss.Index, queries: np.ndarray, k: int, chunk: int) -> np.ndarray:
    """Indices (Q, k) of each (normalised) query's k nearest, ``chunk`` queries at a time."""
    idx = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), chunk):
        _, idx[start:start + chunk] = index.search(queries[start:start + chunk], k)
    missing = int((idx < 0).any(1).sum())
    if missing:
        # faiss pads with -1 when it found fewer than k items (an IVF's probed lists held fewer):
        # never vote with those
        key = "knn.ivf.nprobe" if isinstance(index, faiss.IndexIVF) else "knn.hnsw.ef_search"
        raise ConfigError(f"{key}: the approximate index found fewer than {k} neighbours for {missing} "
                          f"queries; raise {key}")
    return idx


def recall_at_k(approx: np.ndarray, exact: np.ndarray) -> float:
    """Mean share of each row of ``exact`` (Q, k) found in the same row of ``approx``."""
    hits = [len(np.intersect1d(a, e)) for a, e in zip(approx, exact)]
    return float(np.mean(hits)) / exact.shape[1]


def _approximate(b: np.ndarray, q: np.ndarray, k: int, exclude_self: bool, cfg: Knn) -> tuple[np.ndarray, Recall]:
    kk = k + 1 if exclude_self else k
    idx = search_chunked(build_index(b, cfg), q, kk, cfg.query_chunk)
    rows = np.sort(np.random.default_rng(SAMPLE_SEED).choice(len(q), min(cfg.recall_sample, len(q)), replace=False))
    # faiss.knn: brute force over the array itself, without the copy an IndexFlatIP would hold
    _, exact = faiss.knn(q[rows], b, kk, metric=faiss.METRIC_INNER_PRODUCT)
    approx = idx[rows]
    if exclude_self:
        idx, approx, exact = _drop_self(idx, np.arange(len(q))), _drop_self(approx, rows), _drop_self(exact, rows)
    return idx, Recall(cfg.index, round(recall_at_k(approx, exact), 6), k, len(rows))


def neighbours(bank: np.ndarray, queries: np.ndarray, k: int, *, exclude_self: bool = False,
               search: Knn | None = None) -> tuple[np.ndarray, Recall | None]:
    """Indices (Q, k) of each query's k most cosine-similar bank rows, nearest first, and the
    approximate index's recall (None when the search was exact).

    With ``exclude_self`` the queries are the bank itself (leave-one-out): each row's own
    index is removed from its list.  The search is exact unless ``search`` (params ``knn``)
    is given and the bank has more than its ``approx_above`` items.
    """
    if exclude_self and bank is not queries and not np.array_equal(bank, queries):
        raise ValueError("exclude_self needs queries identical to the bank")
    n_bank = len(bank) - (1 if exclude_self else 0)
    if not 1 <= k <= n_bank:
        raise ValueError(f"k={k} needs 1..{n_bank} bank items")
    b = _normalised(bank)
    q = b if exclude_self else _normalised(queries)
    if search is not None and len(bank) > search.approx_above:
        return _approximate(b, q, k, exclude_self, search)
    index = faiss.IndexFlatIP(b.shape[1])
    index.add(b)
    _, idx = index.search(q, k + 1 if exclude_self else k)
    return (_drop_self(idx, np.arange(len(q))) if exclude_self else idx), None


def vote(neighbour_labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Majority class of each row of (Q, k) labels; ties go to the lowest class id."""
    counts = np.zeros((len(neighbour_labels), n_classes), dtype=np.int64)
    np.add.at(counts, (np.arange(len(neighbour_labels))[:, None], neighbour_labels), 1)
    return counts.argmax(1)  # argmax returns the first (lowest) maximal class


def knn_predict(bank: np.ndarray, bank_labels: np.ndarray, queries: np.ndarray, ks: list[int],
                n_classes: int, *, exclude_self: bool = False,
                search: Knn | None = None) -> tuple[dict[int, np.ndarray], Recall | None]:
    """Predicted class of every query for each k, from one faiss search at max(ks), and the
    approximate index's recall@max(ks) (None when the search was exact; see :func:`neighbours`)."""
    idx, recall = neighbours(bank, queries, max(ks), exclude_self=exclude_self, search=search)
    labels = np.asarray(bank_labels)[idx]
    return {k: vote(labels[:, :k], n_classes) for k in ks}, recall
