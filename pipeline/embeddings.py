"""The embeddings of a survey: a folder keyed by galaxy id, written and read chunk by chunk.

``galaxies.parquet`` holds the id, label, label_id and split of row i; ``backbone.npy`` and
``projection.npy`` hold its two representations.  The arrays are written chunk by chunk into
memory-mapped ``.npy`` files and read back memory-mapped, so neither side ever holds a whole
survey's vectors.  The folder appears only when complete (written beside it, then renamed).

Kept apart from :mod:`pipeline.embed` so that the stages which only read embeddings (clustering,
the ablation summary, ...) do not import torch and the model: a few seconds per stage.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

GALAXIES = "galaxies.parquet"
REPRESENTATIONS = ("backbone", "projection")
_COLUMNS = ("id", "label", "label_id", "split")


def write_embeddings(path: Path, index: pd.DataFrame, chunks: Iterable[tuple[np.ndarray, np.ndarray]]) -> None:
    """Write the (backbone, projection) chunks of ``index``'s galaxies, in its row order."""
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    arrays: dict[str, np.ndarray] = {}
    done = 0
    for chunk in chunks:
        if not arrays:  # the widths are known at the first chunk
            arrays = {name: np.lib.format.open_memmap(tmp / f"{name}.npy", mode="w+", dtype=np.float32,
                                                      shape=(len(index), part.shape[1]))
                      for name, part in zip(REPRESENTATIONS, chunk)}
        for name, part in zip(REPRESENTATIONS, chunk):
            arrays[name][done:done + len(part)] = part
        done += len(chunk[0])
    if done != len(index):
        raise ValueError(f"{path}: {done} embedded rows for {len(index)} galaxies")
    for array in arrays.values():
        array.flush()
    arrays.clear()  # closes the maps before the rename
    galaxies = pd.DataFrame({"id": index["id"].astype(str), "label": index["label"].astype(str),
                             "label_id": index["label_id"].astype(np.int64), "split": index["split"].astype(str)})
    galaxies.to_parquet(tmp / GALAXIES, index=False)
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)


def save_embeddings(path: Path, index: pd.DataFrame, backbone: np.ndarray, projection: np.ndarray) -> None:
    """In-memory arrays as one chunk (small sets: the cross-survey and ablation embeddings)."""
    write_embeddings(path, index, [(backbone, projection)])


def load_embeddings(path: Path) -> dict[str, np.ndarray]:
    """id, label, label_id, split (in memory) and both representations (memory-mapped)."""
    galaxies = pd.read_parquet(path / GALAXIES)
    out = {col: galaxies[col].to_numpy(dtype=np.int64 if col == "label_id" else str) for col in _COLUMNS}
    for name in REPRESENTATIONS:
        out[name] = np.load(path / f"{name}.npy", mmap_mode="r")
    return out
