"""Build the prepared dataset of one survey: one uint8 array plus a parquet index.

Outputs (DESIGN sect. 3): ``images.npy`` (N, S, S, 3) uint8, memory-mappable;
``index.parquet`` (row, id, label, label_id, split, ra, dec, vote fractions);
``stats.json`` per-channel mean/std of the training split (never hard-coded, DESIGN sect. 1).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import paths
from pipeline.errors import InputError
from pipeline.imaging import CorruptImage, load_rgb, to_stored
from pipeline.params import Image, Split
from pipeline.progress import progress

log = logging.getLogger(__name__)

IMAGES_FILE = "images.npy"
INDEX_FILE = "index.parquet"
STATS_FILE = "stats.json"
SPLITS = ("train", "val", "test")


class TooManyCorrupt(InputError, RuntimeError):
    """More images failed to decode than ``image.max_corrupt_fraction`` allows."""


@dataclass(frozen=True)
class Prepared:
    images: np.ndarray          # (N, S, S, 3) uint8
    index: pd.DataFrame
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


def stratified_split(labels: np.ndarray, split: Split, seed: int) -> np.ndarray:
    """Seeded random split, stratified by class, with the params fractions (paper Sect. 4.1)."""
    out = np.empty(len(labels), dtype=object)
    rng = np.random.default_rng(seed)
    for cls in sorted(set(labels.tolist())):
        rows = rng.permutation(np.flatnonzero(labels == cls))
        n_train = round(len(rows) * split.train)
        n_val = round(len(rows) * split.val)
        out[rows[:n_train]] = "train"
        out[rows[n_train:n_train + n_val]] = "val"
        out[rows[n_train + n_val:]] = "test"
    return out.astype(str)


def channel_stats(images: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 images in [0, 1] units, accumulated in float64."""
    n = 0
    s = np.zeros(3)
    s2 = np.zeros(3)
    for start in range(0, len(images), 256):
        block = images[start:start + 256].reshape(-1, 3).astype(np.float64) / 255.0
        n += len(block)
        s += block.sum(0)
        s2 += (block ** 2).sum(0)
    mean = s / n
    std = np.sqrt(np.maximum(s2 / n - mean ** 2, 1e-12))
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)


def refetch_hint(survey: str) -> str:
    """What to do about images that do not decode (the manifest says why the failed ones failed)."""
    return (f"`dvc repro images@{survey}` verifies every image again and fetches the broken ones anew "
            f"(see {paths.images_dir(survey) / paths.MANIFEST_FILE} for those that failed there)")


def prepare(selected: pd.DataFrame, image_paths: list[Path], classes: list[str], geometry: Image,
            split: Split, seed: int, survey: str) -> tuple[Prepared, list[dict[str, str]]]:
    """Decode, crop and resize every selected galaxy; corrupt images are reported and skipped.

    Returns the prepared data and the list of corrupt images (id, reason).  Raises
    :class:`TooManyCorrupt` when their fraction exceeds ``geometry.max_corrupt_fraction``.
    """
    side = geometry.stored_size
    images = np.empty((len(selected), side, side, 3), dtype=np.uint8)
    ok = np.zeros(len(selected), dtype=bool)
    corrupt = []
    for i, (gid, path) in enumerate(progress(list(zip(selected["id"], image_paths)),
                                             desc=f"prepare {survey}", unit="img")):
        try:
            images[i] = to_stored(load_rgb(path, geometry), geometry)
            ok[i] = True
        except CorruptImage as exc:
            # The images stage checked each file it wrote, so this one was damaged on disk since
            # (or failed there): its next run verifies every file again and fetches it anew.
            log.warning("skipping galaxy %s: %s; %s", gid, exc, refetch_hint(survey))
            corrupt.append({"id": str(gid), "reason": str(exc)})
    fraction = len(corrupt) / max(len(selected), 1)
    if fraction > geometry.max_corrupt_fraction:
        listed = ", ".join(c["id"] for c in corrupt[:10])
        raise TooManyCorrupt(
            f"survey {survey}: {len(corrupt)} of {len(selected)} images are corrupt "
            f"({fraction:.1%} > survey.{survey}.image.max_corrupt_fraction = "
            f"{geometry.max_corrupt_fraction:.1%}); first ids: {listed}; {refetch_hint(survey)}")

    index = selected.loc[ok].reset_index(drop=True)
    images = images[ok]
    index.insert(0, "row", np.arange(len(index)))
    index.insert(3, "label_id", index["label"].map({c: i for i, c in enumerate(classes)}).astype(int))
    index.insert(4, "split", stratified_split(index["label"].to_numpy(), split, seed))
    mean, std = channel_stats(images[index["split"].to_numpy() == "train"])
    return Prepared(images=images, index=index, mean=mean, std=std), corrupt


def save(prepared: Prepared, out_dir: Path) -> None:
    """Write the three files of a prepared survey (temporary names, then rename)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / (IMAGES_FILE + ".tmp.npy")
    np.save(tmp, prepared.images)
    tmp.replace(out_dir / IMAGES_FILE)
    prepared.index.to_parquet(out_dir / INDEX_FILE, index=False)
    (out_dir / STATS_FILE).write_text(json.dumps({"mean": prepared.mean, "std": prepared.std}, indent=2))


def load(out_dir: Path) -> Prepared:
    """Open a prepared survey; the image array is memory-mapped, not read."""
    stats = json.loads((out_dir / STATS_FILE).read_text())
    return Prepared(images=np.load(out_dir / IMAGES_FILE, mmap_mode="r"),
                    index=pd.read_parquet(out_dir / INDEX_FILE),
                    mean=tuple(stats["mean"]), std=tuple(stats["std"]))
