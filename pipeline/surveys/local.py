"""A user's own survey: a catalogue file and a folder of images (issue 3).

The catalogue (CSV or parquet) has an id column and either vote columns, which the params rules
threshold like any survey's, or a ready ``label_column``.  Labels become one 0/1 column per
label value, ``label_is_<value>``, so a rule ``{label_is_spiral: 1.0}`` selects the galaxies
labelled ``spiral`` and the select stage needs nothing special.  Images are found by a pattern
such as ``{id}.jpg`` (JPEG or PNG), checked to decode at ``survey.<name>.image.native_size`` and
copied into the images folder.  Copied, not linked: each file is read anyway for the check, and
the stage's output then cannot change behind DVC's back when the user edits the originals.
"""
from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping

import numpy as np
import pandas as pd

from pipeline.config import ConfigError, check_fraction, check_positive, parse, require
from pipeline.download.errors import DownloadError
from pipeline.download.fetch import FetchJob
from pipeline.download.images import image_path, run_jobs
from pipeline.download.manifest import ExpectedSize
from pipeline.download.safepath import inside
from pipeline.download.tables import write_parquet
from pipeline.download.validate import check_image
from pipeline.params import Survey
from pipeline.surveys.base import CATALOGUE_FILE, IMAGES_DIR, MANIFEST_FILE

LABEL_PREFIX = "label_is_"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
READERS = {".csv": pd.read_csv, ".parquet": pd.read_parquet}


@dataclass(frozen=True)
class LocalSourceCfg:
    """``survey.<name>.source`` with ``kind: local``; paths are relative to the repository root."""

    kind: Literal["local"]
    catalogue: str  # a .csv or .parquet file
    id_column: str
    ra_column: str | None  # None: positions unknown (NaN)
    dec_column: str | None
    label_column: str | None  # None: the rules read vote columns of the catalogue
    images: str  # folder
    image_pattern: str  # file of a galaxy inside the folder, e.g. "{id}.jpg"
    concurrency: int
    max_failed_fraction: float

    def validate(self, path: str) -> None:
        require(Path(self.catalogue).suffix in READERS, f"{path}.catalogue",
                f"{self.catalogue!r} must end in one of {sorted(READERS)}")
        fields = [f for _, f, _, _ in string.Formatter().parse(self.image_pattern) if f is not None]
        require(fields == ["id"], f"{path}.image_pattern",
                f"{self.image_pattern!r} must hold the placeholder {{id}} exactly once, and no other")
        require(Path(self.image_pattern).suffix.lower() in IMAGE_SUFFIXES, f"{path}.image_pattern",
                f"{self.image_pattern!r} must end in one of {IMAGE_SUFFIXES}")
        check_positive(self.concurrency, f"{path}.concurrency")
        check_fraction(self.max_failed_fraction, f"{path}.max_failed_fraction")


class LocalSource:
    def __init__(self, name: str, source_cfg: Mapping[str, Any], seed: int, *, survey: Survey):
        self.name = name
        self.path = f"survey.{name}.source"
        self.cfg = parse(LocalSourceCfg, source_cfg, self.path)
        self.id_column = self.cfg.id_column
        self.image_suffix = Path(self.cfg.image_pattern).suffix.lower()
        self.size = survey.image.native_size

    def image_identity(self) -> dict[str, Any]:
        return {"kind": "local", "images": self.cfg.images, "pattern": self.cfg.image_pattern, "size": self.size}

    def fetch_catalogue(self, out_dir: Path) -> pd.DataFrame:
        table = self._read()
        for key in ("ra", "dec"):
            column = getattr(self.cfg, f"{key}_column")
            table[key] = table.pop(column) if column is not None else np.nan
        if self.cfg.label_column is not None:
            table = pd.concat([table, self._label_columns(table[self.cfg.label_column])], axis=1)
        write_parquet(table, Path(out_dir) / CATALOGUE_FILE)
        return table

    def fetch_images(self, selected: pd.DataFrame, catalogue_dir: Path, out_dir: Path) -> pd.DataFrame:
        out_dir = Path(out_dir)
        folder, images = Path(self.cfg.images), out_dir / IMAGES_DIR
        if not folder.is_dir():
            raise ConfigError(f"{self.path}.images: {folder} is not a folder")
        jobs = [self._copy_job(str(i), folder, images) for i in selected["id"]]
        # Images of another size than native_size are the params' mistake far more often than the files'.
        expected = ExpectedSize(self.size, f"survey.{self.name}.image.native_size", f"in {folder}")
        return run_jobs(jobs, self.cfg.concurrency, self.cfg.max_failed_fraction, images,
                        out_dir / MANIFEST_FILE, f"{self.path}.max_failed_fraction", f"{self.name} copy",
                        expected)

    def _read(self) -> pd.DataFrame:
        path = Path(self.cfg.catalogue)
        if not path.is_file():
            raise ConfigError(f"{self.path}.catalogue: {path} does not exist")
        table = READERS[path.suffix](path)
        wanted = [self.cfg.id_column, self.cfg.ra_column, self.cfg.dec_column, self.cfg.label_column]
        for key, column in zip(("id_column", "ra_column", "dec_column", "label_column"), wanted):
            if column is not None and column not in table.columns:
                raise ConfigError(f"{self.path}.{key}: {path} has no column {column!r} "
                                  f"(it has {list(table.columns)[:8]})")
        table[self.cfg.id_column] = table[self.cfg.id_column].astype(str)
        return table

    def _label_columns(self, labels: pd.Series) -> pd.DataFrame:
        values = sorted(str(v) for v in labels.dropna().unique())
        columns = {f"{LABEL_PREFIX}{v}": (labels.astype(str) == v).astype(float) for v in values}
        return pd.DataFrame(columns, index=labels.index)

    def _copy_job(self, galaxy_id: str, folder: Path, images: Path) -> FetchJob:
        original = inside(folder, self.cfg.image_pattern.format(id=galaxy_id), f"{self.path}.image_pattern")

        def fetch() -> bytes:
            if not original.is_file():
                # "kind: detail", so the failure summary counts the missing files as one kind
                raise DownloadError(galaxy_id, f"no image file: {original}")
            data = original.read_bytes()
            check_image(data, self.size)
            return data

        return FetchJob(galaxy_id, image_path(images, galaxy_id, self.image_suffix), str(original), fetch)
