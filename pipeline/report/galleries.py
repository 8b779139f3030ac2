"""Galaxy galleries of a survey page: the galaxies kNN got wrong (paper Fig. 9) and the nearest
neighbours of a few test galaxies per class in the learned representation.

Thumbnails are written once per galaxy under the survey's folder of the site, named by the
galaxy's row in the prepared array; the functions return the HTML that shows them.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.knn import neighbours
from pipeline.report import html
from pipeline.report.figures import thumbnail_png

THUMBS = "thumbs"


class Thumbnails:
    """Writes a galaxy's thumbnail into ``folder`` the first time it is asked for; returns its
    path relative to the survey's page, which sits beside ``folder``."""

    def __init__(self, images: np.ndarray, rows: dict[str, int], folder: Path, size: int):
        self.images, self.rows, self.folder, self.size = images, rows, folder, size

    def __call__(self, galaxy_id: str) -> str:
        row = self.rows[galaxy_id]
        rel = f"{THUMBS}/{row}.png"
        if not (self.folder / rel).exists():
            thumbnail_png(self.images[row], self.size, self.folder / rel)
        return f"{self.folder.name}/{rel}"


def misclassified(predictions: pd.DataFrame, limit: int, thumbs: Thumbnails) -> str:
    """The test galaxies whose kNN prediction is wrong, at most ``limit``, in file order."""
    wrong = predictions[predictions["actual"] != predictions["predicted"]]
    if wrong.empty:
        return html.para("kNN classified every test galaxy correctly.")
    shown = wrong.head(limit)
    note = html.para(f"{len(wrong)} of {len(predictions)} test galaxies misclassified"
                     + (f"; the first {limit} shown." if len(wrong) > limit else ".")
                     + " Caption: true label -> kNN prediction.")
    figures = "".join(html.thumbnail(thumbs(str(r.id)), f"{r.actual} -> {r.predicted}")
                      for r in shown.itertuples())
    return note + f"<div class=\"gallery\">{figures}</div>"


def neighbour_galleries(ids: np.ndarray, labels: np.ndarray, splits: np.ndarray, vectors: np.ndarray,
                        classes: list[str], per_class: int, k: int, thumbs: Thumbnails) -> str:
    """For the first ``per_class`` test galaxies of each class: the galaxy, then its ``k`` most
    cosine-similar other galaxies of the survey (all splits), with label and similarity."""
    queries = np.concatenate([np.flatnonzero((splits == "test") & (labels == c))[:per_class] for c in classes])
    k = min(k, len(ids) - 1)
    if len(queries) == 0 or k < 1:
        return html.para("No test galaxies to show.")
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    idx, _ = neighbours(vectors, vectors[queries], k + 1)  # exact search; + 1: the galaxy itself
    rows = []
    for q, found in zip(queries, idx):
        others = [int(i) for i in found if i != q][:k]
        cells = [html.thumbnail(thumbs(str(ids[q])), f"query: {labels[q]}")]
        cells += [html.thumbnail(thumbs(str(ids[i])), f"{labels[i]} {float(unit[q] @ unit[i]):.3f}")
                  for i in others]
        rows.append(f"<div class=\"gallery\">{''.join(cells)}</div>")
    return "\n".join(rows)
