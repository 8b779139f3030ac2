"""The Table 4 measures per cluster: means (paper Table 5) and two clusters' histograms (Fig. 15).

Inputs: the per-galaxy measures (pipeline/morphology.py's columns: ``id``, the six measures,
``flag``, ``flag_sersic``, ``error``) and the clustering's assignments (``id``, ``label``,
``cluster``; 1 = the largest cluster).  A galaxy counts as measured when it has no error and all
six measures are finite; a cluster's means are over its measured galaxies (``null`` when it has
none), beside its ``size`` and ``n_failed``.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: CI and laptops without a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from pipeline.config import ConfigError  # noqa: E402
from pipeline.errors import InputError  # noqa: E402
from pipeline.morphology import MEASURES  # noqa: E402

#: Decimals kept in the metrics file: stable across runs, as fine as the paper's Table 5.
DECIMALS = 4
#: Axis labels of the Fig. 15 panels.
TITLES = {"A": "asymmetry A", "G": "Gini G", "M20": "M20", "SB0": "central surface brightness SB0",
          "Reff": "effective radius Reff (native px)", "n": "Sersic index n"}
BINS = 12


def join(measures: pd.DataFrame, clusters: pd.DataFrame, measures_file: Path, clusters_file: Path) -> pd.DataFrame:
    """The clustering's galaxies with their measures and a ``measured`` column; both tables must
    hold the same galaxies (the same test split), else an :class:`InputError` naming both files."""
    measures = measures.assign(id=measures["id"].astype(str))
    clusters = clusters.assign(id=clusters["id"].astype(str))
    missing = sorted(set(clusters["id"]) - set(measures["id"]))
    extra = sorted(set(measures["id"]) - set(clusters["id"]))
    if missing or extra:
        example = (missing or extra)[0]
        raise InputError(f"{measures_file} and {clusters_file} hold different galaxies ({len(missing)} clustered "
                         f"but not measured, {len(extra)} measured but not clustered, e.g. {example}); rerun "
                         f"both stages on the same prepared survey")
    table = clusters.merge(measures, on="id", how="left", validate="one_to_one")
    error = table["error"].fillna("").astype(str) != ""
    finite = np.isfinite(table[list(MEASURES)].to_numpy(float)).all(axis=1)
    return table.assign(measured=~error & finite)


def cluster_means(table: pd.DataFrame) -> dict:
    """``{"clusters": {"1": {A, G, M20, SB0, Reff, n, n_failed, size}, ...}}``, clusters in order."""
    out = {}
    for number, group in table.groupby("cluster", sort=True):
        ok = group[group["measured"]]
        # measured galaxies have finite values: a mean is NaN only for none, written null
        means = {m: round(float(ok[m].mean()), DECIMALS) if len(ok) else None for m in MEASURES}
        out[str(int(number))] = {**means, "n_failed": int((~group["measured"]).sum()), "size": len(group)}
    return {"clusters": out}


def check_compare(compare: tuple[int, ...], n_clusters: int, survey: str) -> None:
    """Both clusters of the Fig. 15 comparison must exist."""
    for c in compare:
        if c > n_clusters:
            raise ConfigError(f"survey.{survey}.morphology.compare_clusters: cluster {c} does not exist; the "
                              f"clustering of {survey} has {n_clusters} clusters")


def plot_histograms(table: pd.DataFrame, compare: tuple[int, int], title: str, path: Path) -> None:
    """Fig. 15: the six measures of two clusters' measured galaxies, overlaid, on shared bins."""
    fig, axes = plt.subplots(2, 3, figsize=(11, 6.5))
    colours = ("tab:blue", "tab:pink")
    groups = [table[(table["cluster"] == c) & table["measured"]] for c in compare]
    for ax, measure in zip(axes.flat, MEASURES):
        values = np.concatenate([g[measure].to_numpy(float) for g in groups])
        bins = np.histogram_bin_edges(values, bins=BINS) if len(values) else BINS
        for c, group, colour in zip(compare, groups, colours):
            ax.hist(group[measure], bins=bins, color=colour, alpha=0.55, label=f"C{c} ({len(group)})")
        ax.set_xlabel(TITLES[measure])
        ax.set_ylabel("galaxies")
    axes.flat[0].legend(title="cluster (measured)")
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
