"""Encoder ablation (paper Sect. 4.3, Fig. 6): the fusion encoder beside its single branches.

The single-branch encoders (CL_Res18 = ``cnn``, CL_ViT = ``vit``) are trained by
`ablation_train` exactly as the fusion encoder is by `train`; here the three are scored with the
same kNN / NMI / ARI as `evaluate` (train split the bank, test split the queries) and their
per-epoch validation curves are drawn in one plot.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from pipeline.config import ConfigError  # noqa: E402
from pipeline.evaluate import evaluate_representation  # noqa: E402
from pipeline.params import Knn  # noqa: E402

FUSION = "fusion"
#: The per-epoch validation series plotted (DVCLive's plots/metrics/<name>.tsv of each run).
CURVES = ("val_knn", "loss")
LABELS = {"fusion": "fusion (CNN + ViT)", "cnn": "CNN only (CL_Res18)", "vit": "ViT only (CL_ViT)"}


def scores(emb: dict[str, np.ndarray], representation: str, ks: list[int], k: int, classes: list[str], *,
           search: Knn | None = None) -> dict:
    """kNN accuracy for every k, NMI and ARI at ``k``, standard protocol (as `evaluate`); with
    ``search`` (params ``knn``) that made the kNN approximate, its recall (``search``)."""
    r = evaluate_representation(emb[representation], emb["label_id"], emb["split"], ks, k, classes, search=search)
    out = {"knn": r["knn"], "nmi": r["nmi"], "ari": r["ari"]}
    return out | ({"search": r["search"]["knn"]} if "knn" in r.get("search", {}) else {})


def read_curves(live_dir: Path) -> dict[str, pd.Series]:
    """The per-epoch series DVCLive wrote under ``live_dir`` (epoch 1 first)."""
    out = {}
    for name in CURVES:
        path = live_dir / "plots" / "metrics" / f"{name}.tsv"
        if not path.exists():
            raise ConfigError(f"{path}: missing; rerun the training stage that writes it (dvc repro)")
        table = pd.read_csv(path, sep="\t")
        out[name] = pd.Series(table[name].to_numpy(), index=table["step"].to_numpy() + 1)
    return out


def plot_curves(curves: dict[str, dict[str, pd.Series]], survey: str, out: Path) -> None:
    """Validation kNN accuracy and training loss per epoch, one line per encoder (Fig. 6)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for encoder, series in curves.items():
        axes[0].plot(series["val_knn"].index, series["val_knn"].to_numpy(), label=LABELS[encoder])
        axes[1].plot(series["loss"].index, series["loss"].to_numpy(), label=LABELS[encoder])
    axes[0].set(xlabel="epoch", ylabel="validation kNN accuracy (%)", title=f"{survey}: validation")
    axes[1].set(xlabel="epoch", ylabel="NT-Xent loss", title=f"{survey}: training loss")
    axes[0].legend()
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
