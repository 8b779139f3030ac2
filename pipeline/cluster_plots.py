"""The figures of the clustering (paper Figs. 12-14): dendrogram, cluster sizes, image grid.

Each galaxy class has one colour in every figure (the bars of the sizes chart, the frames of the
grid's images), in the order of the survey's ``classes``.  Each function returns the figure;
:func:`save` writes it.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: CI and laptops without a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from scipy.cluster.hierarchy import dendrogram, to_tree  # noqa: E402

from pipeline.cluster import label_counts, majority  # noqa: E402

DPI = 110


def save(fig: Figure, path: Path) -> None:
    """Write ``fig`` as a PNG and free it."""
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def class_colours(classes: list[str]) -> list:
    return [plt.get_cmap("tab10")(i % 10) for i in range(len(classes))]


def _legend(classes: list[str]) -> list[Patch]:
    return [Patch(color=c, label=name) for name, c in zip(classes, class_colours(classes))]


def dendrogram_figure(tree: np.ndarray, labels: np.ndarray, classes: list[str], threshold: float,
                      n_clusters: int, max_leaves: int, title: str) -> Figure:
    """The tree (Fig. 12 left) with the cut as a dashed line; a tree of more than ``max_leaves``
    galaxies shows its last merges only, each leaf then a subtree named by its majority class
    and its number of galaxies."""
    n = len(tree) + 1
    nodes = to_tree(tree, rd=True)[1]

    def leaf_label(node: int) -> str:
        if node < n:
            return classes[labels[node]]
        members = nodes[node].pre_order()
        return f"{classes[np.bincount(labels[members]).argmax()]} ({len(members)})"

    truncated = n > max_leaves
    n_leaves = max_leaves if truncated else n
    fig, ax = plt.subplots(figsize=(min(16.0, max(7.0, 3.0 + 0.16 * n_leaves)), 5.0))
    dendrogram(tree, ax=ax, truncate_mode="lastp" if truncated else None, p=max_leaves,
               color_threshold=threshold, above_threshold_color="0.55", leaf_label_func=leaf_label,
               leaf_rotation=90, leaf_font_size=7)
    ax.axhline(threshold, color="black", linestyle="--", linewidth=1,
               label=f"threshold {threshold:g}: {n_clusters} clusters")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_ylabel("merge distance")
    what = f"last {max_leaves} subtrees: majority class (galaxies)" if truncated else "one leaf per galaxy"
    ax.set_title(f"{title}\n{n} test galaxies ({what})", fontsize=9)
    fig.tight_layout()
    return fig


def sizes_figure(clusters: np.ndarray, labels: np.ndarray, classes: list[str], title: str) -> Figure:
    """Galaxies per cluster, stacked by class, cluster 1 (the largest) on top (Fig. 12 right)."""
    counts = label_counts(clusters, labels, len(classes))
    k = len(counts)
    fig, ax = plt.subplots(figsize=(6.5, 1.3 + 0.26 * k))
    y = np.arange(1, k + 1)
    left = np.zeros(k)
    for j, colour in enumerate(class_colours(classes)):
        ax.barh(y, counts[:, j], left=left, color=colour, height=0.8)
        left += counts[:, j]
    for yi, total in zip(y, left):
        ax.text(total, yi, f" {int(total)}", va="center", fontsize=7)
    ax.set_yticks(y, [f"C{i}" for i in y], fontsize=7)
    ax.set_ylim(k + 0.7, 0.3)
    ax.set_xlim(0, left.max() * 1.12)
    ax.set_xlabel("galaxies")
    ax.legend(handles=_legend(classes), fontsize=7, loc="lower right")
    ax.set_title(f"{title}: {k} clusters", fontsize=9)
    fig.tight_layout()
    return fig


def grid_figure(images: np.ndarray, clusters: np.ndarray, labels: np.ndarray, classes: list[str],
                max_clusters: int, per_cluster: int, seed: int, title: str) -> Figure:
    """Sample galaxies of the largest clusters, one row each (Figs. 13-14).

    ``images[i]`` is galaxy ``i``'s (S, S, 3) uint8 image; the samples are drawn with ``seed``.
    Each image is framed in its label's colour; each row is named by cluster, size, majority class.
    """
    rng = np.random.default_rng(seed)
    counts = label_counts(clusters, labels, len(classes))
    rows = min(max_clusters, len(counts))
    colours = class_colours(classes)
    height = 0.8 + 1.0 * rows  # inches: a row per cluster, the title above, the legend below
    fig, axes = plt.subplots(rows, per_cluster, figsize=(max(6.0, 2.0 + 1.0 * per_cluster), height),
                             squeeze=False)
    for r, (row_axes, majority_class) in enumerate(zip(axes, majority(counts[:rows], classes))):
        members = np.flatnonzero(clusters == r + 1)
        picks = rng.choice(members, size=min(len(members), per_cluster), replace=False)
        for ax, galaxy in zip(row_axes, picks):
            ax.imshow(images[galaxy], interpolation="nearest")  # the stored pixels, no smoothing
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_color(colours[labels[galaxy]])
                spine.set_linewidth(2.5)
        for ax in row_axes[len(picks):]:
            ax.axis("off")
        share = 100 * counts[r].max() / counts[r].sum()
        row_axes[0].set_ylabel(f"C{r + 1}  n={counts[r].sum()}\n{majority_class} {share:.0f}%",
                               rotation=0, ha="right", va="center", fontsize=8)
    fig.legend(handles=_legend(classes), loc="lower center", ncol=len(classes), fontsize=8, frameon=False,
               title="frame: the galaxy's label", title_fontsize=8)
    fig.suptitle(f"{title}: sample galaxies of the {rows} largest clusters", fontsize=9)
    fig.tight_layout(rect=(0, 0.5 / height, 1, 1 - 0.3 / height))
    return fig
