"""Cross-survey transfer (paper Sect. 4.4, Fig. 11): a model trained on survey A classifies
survey B's galaxies by kNN, with B's train split as the labelled bank and B's test split as
queries (and the leave-one-out protocol inside B's test split).

Classes match across surveys by canonical name; a target can also be scored on named class
subsets, e.g. DECaLS(3) = DECaLS without `round`.
"""
from __future__ import annotations

import numpy as np

from pipeline.evaluate import evaluate_representation
from pipeline.params import Knn


def subset_name(target: str, subset: str | None) -> str:
    """``sim_decals`` for all classes, ``sim_decals_3`` for the subset named ``3``."""
    return target if subset is None else f"{target}_{subset}"


def transfer_scores(features: np.ndarray, labels: np.ndarray, split: np.ndarray, classes: list[str],
                    keep: list[str], ks: list[int], k: int, *, search: Knn | None = None) -> dict:
    """kNN accuracy (both protocols at ``k``), NMI and ARI on the galaxies of classes ``keep``;
    ``search`` (params ``knn``) and the approximate index's recall as in :func:`evaluate_representation`."""
    unknown = sorted(set(keep) - set(classes))
    if unknown:
        raise ValueError(f"class subset {keep} names classes {unknown} the target does not have {classes}")
    keep_ids = [classes.index(c) for c in keep]
    rows = np.isin(labels, keep_ids)
    remap = np.full(len(classes), -1)
    remap[keep_ids] = np.arange(len(keep_ids))
    r = evaluate_representation(features[rows], remap[labels[rows]], split[rows], ks, k, list(keep), search=search)
    scores = {"knn": r["knn"][f"k{k}"], "knn_loo": r["knn_loo"][f"k{k}"], "nmi": r["nmi"], "ari": r["ari"]}
    return scores | ({"search": r["search"]} if "search" in r else {})
