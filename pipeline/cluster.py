"""Hierarchical clustering of a survey's test-split representations (paper Sect. 4.5.1, Fig. 12).

SciPy's ``linkage`` builds the whole tree; ``fcluster(criterion="distance")`` cuts it at the
survey's threshold, so every cluster's galaxies merge below that distance (the paper's dotted line
at 3.3 on GZ2).  SciPy's Ward distances are scikit-learn's, whose ``AgglomerativeClustering`` the
paper used, so its thresholds carry over.  Clusters are numbered by size, 1 = the largest, so that
other stages (morphology per cluster, Table 5) and params (``compare_clusters``) can name them.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import fcluster, linkage, maxdists
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from pipeline.config import ConfigError
from pipeline.errors import InputError
from pipeline.params import Cluster


@dataclass(frozen=True)
class Clustering:
    tree: np.ndarray      # SciPy linkage matrix, (N - 1, 4)
    clusters: np.ndarray  # (N,) cluster number of each galaxy, 1 = the largest cluster


def galaxies_to_cluster(emb: dict[str, np.ndarray], representation: str, survey: str) -> dict[str, np.ndarray]:
    """The test galaxies' ids, label ids and vectors: at least two, all finite, or nothing can be clustered."""
    test = emb["split"] == "test"
    n = int(test.sum())
    if n < 2:
        raise InputError(f"survey {survey}: {n} test galaxies, clustering needs at least 2 "
                         f"(more galaxies, or a larger survey.{survey}.split.test)")
    vectors = emb[representation][test]
    bad = int((~np.isfinite(vectors).all(axis=1)).sum())
    if bad:
        raise InputError(f"survey {survey}: {bad} of the {n} test galaxies have non-finite {representation} "
                         f"vectors (a diverged training); retrain (dvc repro train@{survey})")
    return {"id": emb["id"][test], "label_id": emb["label_id"][test], "vectors": vectors}


def renumber_by_size(raw: np.ndarray) -> np.ndarray:
    """Cluster labels -> 1..K by decreasing size; equal sizes in order of their first member."""
    ids, first, counts = np.unique(raw, return_index=True, return_counts=True)
    order = np.lexsort((first, -counts))  # last key is the primary one
    number = np.zeros(ids.max() + 1, dtype=int)
    number[ids[order]] = np.arange(1, len(ids) + 1)
    return number[raw]


def cluster_vectors(vectors: np.ndarray, config: Cluster, threshold: float, key: str) -> Clustering:
    """Agglomerative clustering of ``vectors`` cut at distance ``threshold``.

    A cut that leaves one cluster or every galaxy alone says nothing; it is refused naming ``key``
    (the threshold's params key), with the distance that the threshold must cross.
    """
    tree = linkage(vectors, method=config.linkage, metric=config.metric)
    raw = fcluster(tree, t=threshold, criterion="distance")
    clusters = renumber_by_size(raw)
    n, k = len(vectors), int(clusters.max())
    # a cluster's height is the largest merge inside it (the same for every method, inversions too)
    heights = maxdists(tree)
    if k == 1:
        raise ConfigError(f"{key}: {threshold:g} puts all {n} test galaxies in 1 cluster; the root "
                          f"(highest) merge is at distance {heights.max():.6g}, set the threshold below it")
    if k == n:
        raise ConfigError(f"{key}: {threshold:g} leaves each of the {n} test galaxies in a cluster of its "
                          f"own ({k} clusters); the lowest merge is at distance {heights.min():.6g}, "
                          f"set the threshold to at least that")
    return Clustering(tree=tree, clusters=clusters)


def label_counts(clusters: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """(K, C) galaxies of each class (column) in each cluster (row 0 = cluster 1)."""
    counts = np.zeros((int(clusters.max()), n_classes), dtype=int)
    np.add.at(counts, (clusters - 1, labels), 1)
    return counts


def scores(clusters: np.ndarray, labels: np.ndarray, classes: list[str], threshold: float) -> dict:
    """Sizes, purity (percent of galaxies in their cluster's majority class), NMI and ARI against
    the labels, and each cluster's label counts; floats rounded for stable metric files."""
    counts = label_counts(clusters, labels, len(classes))
    return {
        "n_galaxies": len(clusters),
        "threshold": threshold,
        "n_clusters": len(counts),
        "sizes": counts.sum(axis=1).tolist(),
        "purity": round(float(counts.max(axis=1).sum() / len(clusters)) * 100, 4),
        "nmi": round(float(normalized_mutual_info_score(labels, clusters)), 6),
        "ari": round(float(adjusted_rand_score(labels, clusters)), 6),
        # keys "1", "2", ...: what each cluster holds, every class listed so that files diff cleanly
        "labels": {str(i + 1): dict(zip(classes, map(int, row))) for i, row in enumerate(counts)},
    }


def majority(counts: np.ndarray, classes: list[str]) -> list[str]:
    """Each cluster's most frequent class (ties: the first in ``classes``)."""
    return [classes[i] for i in counts.argmax(axis=1)]


def write_assignments(path: Path, ids: np.ndarray, labels: np.ndarray, clusters: np.ndarray,
                      classes: list[str]) -> None:
    """One row per test galaxy: id, label, cluster (1 = the largest)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"id": ids, "label": [classes[i] for i in labels], "cluster": clusters}).to_csv(path, index=False)


def image_rows(index_ids: np.ndarray, ids: np.ndarray, survey: str) -> np.ndarray:
    """Rows of the prepared images (whose index lists ``index_ids``) holding galaxies ``ids``."""
    row = {str(i): r for r, i in enumerate(index_ids)}
    missing = [str(i) for i in ids if str(i) not in row]
    if missing:
        raise InputError(f"survey {survey}: {len(missing)} embedded galaxies (e.g. {missing[0]}) are not in "
                         f"the prepared images; rerun the embed stage (dvc repro embed@{survey})")
    return np.array([row[str(i)] for i in ids], dtype=int)
