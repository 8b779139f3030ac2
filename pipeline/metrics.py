"""Classification and clustering scores of kNN predictions (paper Sect. 4.2)."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import adjusted_rand_score, confusion_matrix, normalized_mutual_info_score

from pipeline.knn import knn_predict
from pipeline.params import Knn


def accuracy(pred: np.ndarray, labels: np.ndarray) -> float:
    """Percentage of correct predictions, rounded for stable metric files."""
    return round(float(np.mean(pred == labels)) * 100, 4)


def knn_scores(bank: np.ndarray, bank_labels: np.ndarray, queries: np.ndarray, query_labels: np.ndarray,
               ks: list[int], k: int, classes: list[str], *, exclude_self: bool = False,
               search: Knn | None = None) -> dict:
    """kNN accuracy for every k, and NMI, ARI, per-class recall and confusion at ``k``.

    ``search``: params ``knn`` (None: exact).  Only when it made the search approximate, the
    result has ``search``: the index and its recall@max(ks) against the exact search.
    """
    preds, search_recall = knn_predict(bank, bank_labels, queries, ks, len(classes), exclude_self=exclude_self,
                                       search=search)
    pred = preds[k]
    cm = confusion_matrix(query_labels, pred, labels=list(range(len(classes))))
    recall = {c: round(float(cm[i, i] / cm[i].sum()) * 100, 4) if cm[i].sum() else None
              for i, c in enumerate(classes)}
    scores = {
        "knn": {f"k{kk}": accuracy(preds[kk], query_labels) for kk in ks},
        "nmi": round(float(normalized_mutual_info_score(query_labels, pred)), 6),
        "ari": round(float(adjusted_rand_score(query_labels, pred)), 6),
        "recall": recall,
        "confusion": cm.tolist(),
        "pred": pred,
    }
    if search_recall is not None:
        scores["search"] = search_recall.as_dict()
    return scores
