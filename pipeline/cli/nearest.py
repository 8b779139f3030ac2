"""Nearest neighbours with their cosine similarities, for the query commands.

The search is :func:`pipeline.knn.neighbours` (faiss inner product on L2-normalised vectors), the
one the evaluate stage votes with; this adds each neighbour's cosine similarity, which
``similar`` prints and ``oddities`` averages.
"""
from __future__ import annotations

import numpy as np

from pipeline.knn import neighbours
from pipeline.progress import progress

#: Query rows whose similarities are computed at once: bounds the (chunk, k, D) gather.
CHUNK = 4096


def unit_rows(x: np.ndarray) -> np.ndarray:
    """``x`` (n, D) as float32 rows of unit length (an all-zero row stays zero)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, np.finfo(np.float32).tiny)


def nearest(bank: np.ndarray, queries: np.ndarray, k: int, *,
            exclude_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Indices (Q, k) of each query's k most cosine-similar bank rows, nearest first, and those
    cosine similarities (Q, k).  ``exclude_self``: the queries are the bank, each row's own
    index left out (:func:`pipeline.knn.neighbours`)."""
    idx, _ = neighbours(bank, queries, k, exclude_self=exclude_self)
    b = unit_rows(bank)
    q = b if exclude_self else unit_rows(queries)
    sims = np.empty(idx.shape, dtype=np.float32)
    for start in progress(range(0, len(q), CHUNK), desc="similarities", unit="chunk"):
        rows = idx[start:start + CHUNK]
        sims[start:start + CHUNK] = np.einsum("qkd,qd->qk", b[rows], q[start:start + CHUNK])
    return idx, sims
