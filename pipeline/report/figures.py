"""The report's own PNGs: the confusion matrix, the training curves and galaxy thumbnails.

Figures are drawn with matplotlib's Agg backend (no display); thumbnails are the prepared
stored pixels resized with Pillow, small, so that the whole report takes seconds.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: CI and laptops without a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from PIL import Image as PILImage  # noqa: E402

DPI = 100


def confusion_png(actual: np.ndarray, predicted: np.ndarray, classes: list[str], title: str, path: Path) -> None:
    """Counts of (actual, predicted) class pairs, rows = actual (the paper's Fig. 8 layout)."""
    ids = {c: i for i, c in enumerate(classes)}
    counts = np.zeros((len(classes), len(classes)), dtype=np.int64)
    np.add.at(counts, ([ids[a] for a in actual], [ids[p] for p in predicted]), 1)
    fig, ax = plt.subplots(figsize=(1.8 + 0.9 * len(classes), 1.4 + 0.8 * len(classes)))
    ax.imshow(counts, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=30, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    for (i, j), n in np.ndenumerate(counts):
        ax.text(j, i, str(n), ha="center", va="center", color="white" if n > counts.max() / 2 else "black")
    ax.set_xlabel("predicted (kNN)")
    ax.set_ylabel("actual")
    ax.set_title(title, fontsize=9)
    _save(fig, path)


def curves_png(tsvs: list[Path], title: str, path: Path) -> None:
    """One panel per DVCLive series (``step`` against its value), side by side."""
    fig, axes = plt.subplots(1, len(tsvs), figsize=(2.6 * len(tsvs), 2.4), squeeze=False)
    for ax, tsv in zip(axes[0], tsvs):
        series = pd.read_csv(tsv, sep="\t")
        ax.plot(series["step"], series[tsv.stem], marker=".", markersize=3)
        ax.set_title(tsv.stem, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(title, fontsize=9)
    _save(fig, path)


def thumbnail_png(pixels: np.ndarray, size: int, path: Path) -> None:
    """A stored (S, S, 3) uint8 image resized to ``size`` px across."""
    path.parent.mkdir(parents=True, exist_ok=True)
    PILImage.fromarray(np.asarray(pixels)).resize((size, size), PILImage.BILINEAR).save(path)


def _save(fig, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
