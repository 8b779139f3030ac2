"""Classification and clustering scores of kNN predictions (paper Sect. 4.2)."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import adjusted_rand_score, confusion_matrix, normalized_mutual_info_score

from pipeline.knn import knn_predict


def accuracy(pred: np.ndarray, labels: np.ndarray) -> float:
    """Percentage of correct predictions, rounded for stable metric files."""
    return round(float(np.mean(pred == labels)) * 100, 4)


def knn_scores(bank: np.ndarray, bank_labels: np.ndarray, queries: np.ndarray, query_labels: np.ndarray,
               ks: list[int], k: int, classes: list[str], *, exclude_self: bool = False) -> dict:
    """kNN accuracy for every k, and NMI, ARI, per-class recall and confusion at ``k``."""
    preds = knn_predict(bank, bank_labels, queries, ks, len(classes), exclude_self=exclude_self)
    pred = preds[k]
    cm = confusion_matrix(query_labels, pred, labels=list(range(len(classes))))
    recall = {c: round(float(cm[i, i] / cm[i].sum()) * 100, 4) if cm[i].sum() else None
              for i, c in enumerate(classes)}
    return {
        "knn": {f"k{kk}": accuracy(preds[kk], query_labels) for kk in ks},
        "nmi": round(float(normalized_mutual_info_score(query_labels, pred)), 6),
        "ari": round(float(adjusted_rand_score(query_labels, pred)), 6),
        "recall": recall,
        "confusion": cm.tolist(),
        "pred": pred,
    }
