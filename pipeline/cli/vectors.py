"""The command's embeddings file, and reading it or a pipeline embed folder as one thing.

``galaxy-contrastive embed`` writes one parquet file: columns ``id`` and ``path`` (strings: the
galaxy's id and the input as given), ``backbone`` and ``projection`` (fixed-size lists of
float32), optionally ``label``; and the parquet schema metadata key ``galaxy_contrastive``, a JSON
object saying which model made the vectors (``model``, ``survey``, ``model_digest``, ...).

``similar``, ``classify`` and ``oddities`` read either that file or a pipeline embed folder
(``data/embed/<survey>/``, :mod:`pipeline.embeddings`), which adds labels and splits.  The
vectors are read once, as one contiguous float32 array per representation (memory-mapped for a
pipeline folder, the parquet columns' own buffers for a file): no per-row Python objects.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.embeddings import GALAXIES, REPRESENTATIONS, load_embeddings
from pipeline.errors import InputError

#: The parquet schema metadata key holding the JSON description of the file.
META_KEY = b"galaxy_contrastive"
#: The vectors the query commands compare unless told otherwise: params.yaml's default
#: ``evaluate.representation`` (the paper's Encoder output), which the command cannot read.
DEFAULT_REPRESENTATION = "projection"


class VectorsError(InputError):
    """An embeddings file or folder that cannot be read, or lacks what a command needs."""


@dataclass
class Vectors:
    """Galaxy ``i``'s id, input path, label, split and its two representations (row ``i``)."""

    ids: np.ndarray                 # (n,) str
    paths: np.ndarray | None        # (n,) str; None for a pipeline embed folder
    labels: np.ndarray | None       # (n,) str; None when unlabelled
    splits: np.ndarray | None       # (n,) str train/val/test; None when not from the pipeline
    backbone: np.ndarray            # (n, F) float32
    projection: np.ndarray          # (n, P) float32
    meta: dict
    #: Class order where it is known (a pipeline folder's label ids): kNN ties go to the first.
    classes: tuple[str, ...] | None = None
    source: Path | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def representation(self, name: str) -> np.ndarray:
        """The (n, D) array of ``backbone`` or ``projection``."""
        if name not in REPRESENTATIONS:
            raise ValueError(f"representation {name!r}: one of {', '.join(REPRESENTATIONS)}")
        return self.backbone if name == "backbone" else self.projection

    def row_of(self, galaxy_id: str) -> int:
        """The row of ``galaxy_id``; a :class:`VectorsError` naming it and the file if absent."""
        rows = np.flatnonzero(self.ids == str(galaxy_id))
        if not len(rows):
            raise VectorsError(f"{self.source}: no galaxy with id {galaxy_id!r}")
        return int(rows[0])

    def subset(self, rows: np.ndarray) -> "Vectors":
        """The galaxies at ``rows`` (an index array or boolean mask), in that order."""
        def pick(a):
            return None if a is None else a[rows]
        return Vectors(self.ids[rows], pick(self.paths), pick(self.labels), pick(self.splits),
                       np.asarray(self.backbone[rows]), np.asarray(self.projection[rows]), self.meta,
                       self.classes, self.source)


def write_vectors(path: Path, ids: Sequence[str], paths: Sequence[str], backbone: np.ndarray,
                  projection: np.ndarray, meta: dict, labels: Sequence[str] | None = None) -> None:
    """Write the embeddings file (written beside ``path``, then renamed: never half a file)."""
    path = Path(path)
    backbone = np.ascontiguousarray(backbone, dtype=np.float32)
    projection = np.ascontiguousarray(projection, dtype=np.float32)
    n = len(ids)
    if not (len(paths) == len(backbone) == len(projection) == n) or (labels is not None and len(labels) != n):
        labelled = f", {len(labels)} labels" if labels is not None else ""
        raise ValueError(f"{path}: {n} ids, {len(paths)} paths, {len(backbone)} backbone and "
                         f"{len(projection)} projection rows{labelled}")

    def fixed(a: np.ndarray) -> pa.Array:
        return pa.FixedSizeListArray.from_arrays(pa.array(a.reshape(-1)), a.shape[1])

    columns = {"id": pa.array([str(i) for i in ids], pa.string()),
               "path": pa.array([str(p) for p in paths], pa.string()),
               "backbone": fixed(backbone), "projection": fixed(projection)}
    if labels is not None:
        columns["label"] = pa.array([str(x) for x in labels], pa.string())
    table = pa.table(columns).replace_schema_metadata({META_KEY: json.dumps(meta, sort_keys=True).encode()})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)


def _matrix(table: pa.Table, name: str, path: Path) -> np.ndarray:
    """A (fixed-size or variable) list<float> column as one (n, D) float32 array."""
    col = table.column(name).combine_chunks()
    if not (pa.types.is_list(col.type) or pa.types.is_large_list(col.type) or pa.types.is_fixed_size_list(col.type)):
        raise VectorsError(f"{path}: column {name!r} is {col.type}, not a list of floats")
    if col.null_count:
        raise VectorsError(f"{path}: column {name!r} has {col.null_count} empty rows")
    values = col.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    n = len(col)
    widths = col.value_lengths().to_numpy(zero_copy_only=False) if not pa.types.is_fixed_size_list(col.type) \
        else np.full(n, col.type.list_size)
    if n and (widths != widths[0]).any():
        row = int(np.flatnonzero(widths != widths[0])[0])
        raise VectorsError(f"{path}: column {name!r} row {row} has {widths[row]} values, row 0 has {widths[0]}")
    return values.reshape(n, int(widths[0]) if n else 0)


def _read_file(path: Path) -> Vectors:
    try:
        table = pq.read_table(path, memory_map=True)
    except (pa.ArrowException, OSError) as e:
        raise VectorsError(f"{path}: not a readable parquet embeddings file ({e})") from e
    missing = [c for c in ("id", *REPRESENTATIONS) if c not in table.column_names]
    if missing:
        raise VectorsError(f"{path}: no column {', '.join(map(repr, missing))} (an embeddings file has "
                           f"id, path, backbone, projection)")
    raw = (table.schema.metadata or {}).get(META_KEY)
    try:
        meta = json.loads(raw) if raw else {}
    except ValueError as e:
        raise VectorsError(f"{path}: schema metadata {META_KEY.decode()!r} is not JSON ({e})") from e

    def strings(name: str) -> np.ndarray | None:
        return table.column(name).to_numpy(zero_copy_only=False).astype(str) if name in table.column_names else None

    return Vectors(strings("id"), strings("path"), strings("label"), strings("split"),
                   _matrix(table, "backbone", path), _matrix(table, "projection", path), meta,
                   tuple(meta["classes"]) if "classes" in meta else None, path)


def _read_folder(path: Path) -> Vectors:
    missing = [f for f in (GALAXIES, *(f"{r}.npy" for r in REPRESENTATIONS)) if not (path / f).is_file()]
    if missing:
        raise VectorsError(f"{path}: a pipeline embed folder needs {', '.join(missing)}")
    emb = load_embeddings(path)
    # Class id -> name from the folder's own (label_id, label) pairs: the evaluate stage's order.
    pairs = dict(zip(emb["label_id"].tolist(), emb["label"].tolist()))
    classes = tuple(pairs[i] for i in sorted(pairs))
    return Vectors(emb["id"], None, emb["label"], emb["split"], emb["backbone"], emb["projection"],
                   {"survey": path.name}, classes, path)


def read_vectors(path: Path | str) -> Vectors:
    """An embeddings file written by :func:`write_vectors`, or a pipeline embed folder."""
    path = Path(path)
    if path.is_dir():
        return _read_folder(path)
    if not path.is_file():
        raise VectorsError(f"{path}: no such embeddings file or folder")
    return _read_file(path)
