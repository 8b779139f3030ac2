"""faiss kNN classification on learned representations (paper Sect. 4.2).

Cosine similarity (inner product of L2-normalised vectors, paper Eq. 1), majority vote over
the k nearest bank items, ties to the lowest class id (the reference code's rule, and
scikit-learn's).
"""
from __future__ import annotations

import faiss
import numpy as np


def _normalised(x: np.ndarray) -> np.ndarray:
    x = np.array(x, dtype=np.float32)  # a copy: faiss normalises in place
    faiss.normalize_L2(x)
    return x


def neighbours(bank: np.ndarray, queries: np.ndarray, k: int, *, exclude_self: bool = False) -> np.ndarray:
    """Indices (Q, k) of each query's k most cosine-similar bank rows, nearest first.

    With ``exclude_self`` the queries are the bank itself (leave-one-out): each row's own
    index is removed from its list.
    """
    if exclude_self and bank is not queries and not np.array_equal(bank, queries):
        raise ValueError("exclude_self needs queries identical to the bank")
    n_bank = len(bank) - (1 if exclude_self else 0)
    if not 1 <= k <= n_bank:
        raise ValueError(f"k={k} needs 1..{n_bank} bank items")
    b = _normalised(bank)
    q = b if exclude_self else _normalised(queries)
    index = faiss.IndexFlatIP(b.shape[1])
    index.add(b)
    _, idx = index.search(q, k + 1 if exclude_self else k)
    if not exclude_self:
        return idx
    own = np.arange(len(q))[:, None]
    is_self = idx == own
    # Drop the query itself; if an exact duplicate pushed it out of the list, drop the last.
    is_self[~is_self.any(1), -1] = True
    return idx[~is_self].reshape(len(q), k)


def vote(neighbour_labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Majority class of each row of (Q, k) labels; ties go to the lowest class id."""
    counts = np.zeros((len(neighbour_labels), n_classes), dtype=np.int64)
    np.add.at(counts, (np.arange(len(neighbour_labels))[:, None], neighbour_labels), 1)
    return counts.argmax(1)  # argmax returns the first (lowest) maximal class


def knn_predict(bank: np.ndarray, bank_labels: np.ndarray, queries: np.ndarray, ks: list[int],
                n_classes: int, *, exclude_self: bool = False) -> dict[int, np.ndarray]:
    """Predicted class of every query for each k, from one faiss search at max(ks)."""
    idx = neighbours(bank, queries, max(ks), exclude_self=exclude_self)
    labels = np.asarray(bank_labels)[idx]
    return {k: vote(labels[:, :k], n_classes) for k in ks}
