"""The embeddings file of a survey: one ``.npz`` per survey, keyed by galaxy id.

Kept apart from :mod:`pipeline.embed` so that the stages which only read embeddings (clustering,
the ablation summary, ...) do not import torch and the model: a few seconds per stage.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def save_embeddings(path: Path, index: pd.DataFrame, backbone: np.ndarray, projection: np.ndarray) -> None:
    """One file per survey: id, label, label_id, split and both representations."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, id=index["id"].to_numpy(dtype=str), label=index["label"].to_numpy(dtype=str),
             label_id=index["label_id"].to_numpy(), split=index["split"].to_numpy(dtype=str),
             backbone=backbone, projection=projection)
    tmp.replace(path)


def load_embeddings(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as f:
        return {k: f[k] for k in f.files}
