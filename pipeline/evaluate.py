"""Both kNN protocols on one representation, and the baselines (paper Sect. 4.3, DESIGN sect. 1).

Standard protocol: the train split is the labelled bank, the test split the queries.
Leave-one-out protocol (the reference code's "test accuracy"): kNN inside the test split
itself, each galaxy voted on by its k nearest other test galaxies.
The standard protocol is also scored with the val split as queries (``knn_val``): settings are
chosen on it, so that the test split stays unseen until the end.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from pipeline import augment
from pipeline.chunks import read_chunks
from pipeline.metrics import knn_scores
from pipeline.params import Knn
from pipeline.prepare import Prepared


def evaluate_representation(features: np.ndarray, labels: np.ndarray, split: np.ndarray, ks: list[int],
                            k: int, classes: list[str], *, search: Knn | None = None) -> dict:
    """Scores of both protocols; ``pred`` (test-split predictions at ``k``) for the confusion plot.

    ``search``: params ``knn`` (None: exact).  Where it made a search approximate, ``search``
    maps that protocol's key (``knn``, ``knn_loo``, ``knn_val``) to the index's recall.
    """
    bank, test, val = split == "train", split == "test", split == "val"
    std = knn_scores(features[bank], labels[bank], features[test], labels[test], ks, k, classes, search=search)
    loo = knn_scores(features[test], labels[test], features[test], labels[test], ks, k, classes,
                     exclude_self=True, search=search)
    on_val = (knn_scores(features[bank], labels[bank], features[val], labels[val], ks, k, classes, search=search)
              if val.any() else None)
    result = {
        "knn": std["knn"], "knn_loo": loo["knn"], "knn_val": on_val["knn"] if on_val else None,
        "nmi": std["nmi"], "ari": std["ari"], "nmi_loo": loo["nmi"], "ari_loo": loo["ari"],
        "recall": std["recall"], "confusion": std["confusion"], "pred": std["pred"],
    }
    approximate = {key: r["search"] for key, r in (("knn", std), ("knn_loo", loo), ("knn_val", on_val))
                   if r is not None and "search" in r}
    if approximate:
        result["search"] = approximate
    return result


def headline(metrics: dict, k: int) -> dict:
    """The numbers `dvc metrics show` prints, taken from the evaluate stage's ``metrics`` dict.

    Standard-protocol kNN at every k, NMI, ARI, and both baselines at the paper's ``k``, under
    the same keys as in ``metrics``, so that each headline value is found by the same dotted key
    in the detail file.  Everything else stays in the detail file only: with it, the table of
    three surveys would be hundreds of columns wide.
    """
    at_k = f"k{k}"
    return {"knn": metrics["knn"], "nmi": metrics["nmi"], "ari": metrics["ari"],
            "baseline": {name: {at_k: scores[at_k]} for name, scores in metrics["baseline"].items()}}


def pixel_features(prepared: Prepared, window: int, side: int, chunk_images: int = 8192) -> np.ndarray:
    """Raw-pixel baseline: the centred evaluation window, area-downsampled to side x side, flattened."""
    out = []
    for chunk in read_chunks(prepared.images, np.arange(len(prepared.images)), chunk_images):
        x = augment.to_float(chunk)
        s = x.shape[-1]
        top = (s - window) // 2
        x = x[..., top:top + window, top:top + window]
        out.append(F.adaptive_avg_pool2d(x, side).flatten(1))
    return torch.cat(out).numpy()
