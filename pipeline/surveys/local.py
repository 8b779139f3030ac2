"""A user's own survey: a catalogue file and a folder of images (issue 3).

The catalogue (CSV or parquet) has an id column and either vote columns, which the params rules
threshold like any survey's, or a ready ``label_column``.  Every label must be one of the survey's
classes, after ``label_aliases`` (e.g. ``{Sp: spiral}``); labels become one 0/1 column per class
present, ``label_is_<class>``, so a rule ``{label_is_spiral: 1.0}`` selects the galaxies labelled ``spiral``
and the select stage needs nothing special.  Ids are read as text exactly as written: they name
the image files, so ``007`` must not become ``7`` nor ``1e5`` ``100000.0``.  Images are found
by a pattern such as ``{id}.jpg`` (JPEG or PNG), checked to decode at
``survey.<name>.image.native_size`` and copied into the images folder.  Copied, not linked: each
file is read anyway for the check, and the stage's output then cannot change behind DVC's back
when the user edits the originals.
"""
from __future__ import annotations

import difflib
import logging
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping

import numpy as np
import pandas as pd

from pipeline.config import ConfigError, check_fraction, check_positive, parse, require
from pipeline.download.errors import DownloadError
from pipeline.download.images import Job, image_job, refusal, run_jobs
from pipeline.download.manifest import ExpectedSize
from pipeline.download.safepath import inside
from pipeline.download.tables import write_parquet
from pipeline.download.validate import ImageSpec
from pipeline.params import Survey
from pipeline.params_reads import not_a_dependency
from pipeline.surveys.base import CATALOGUE_FILE, IMAGES_DIR, MANIFEST_FILE, NativeSize

LABEL_PREFIX = "label_is_"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
CATALOGUE_SUFFIXES = (".csv", ".parquet")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocalSourceCfg:
    """``survey.<name>.source`` with ``kind: local``; paths are relative to the repository root."""

    kind: Literal["local"]
    catalogue: str  # a .csv or .parquet file
    id_column: str
    ra_column: str | None  # None: positions unknown (NaN)
    dec_column: str | None
    label_column: str | None  # None: the rules read vote columns of the catalogue
    label_aliases: dict[str, str]  # label as written -> class, e.g. {Sp: spiral}; {} for none
    images: str  # folder
    image_pattern: str  # file of a galaxy inside the folder, e.g. "{id}.jpg"
    concurrency: int
    max_failed_fraction: float
    max_trailing_bytes: int  # an image with more bytes after its end marker is not copied

    def validate(self, path: str) -> None:
        require(Path(self.catalogue).suffix in CATALOGUE_SUFFIXES, f"{path}.catalogue",
                f"{self.catalogue!r} must end in one of {list(CATALOGUE_SUFFIXES)}")
        fields = [f for _, f, _, _ in string.Formatter().parse(self.image_pattern) if f is not None]
        require(fields == ["id"], f"{path}.image_pattern",
                f"{self.image_pattern!r} must hold the placeholder {{id}} exactly once, and no other")
        require(Path(self.image_pattern).suffix.lower() in IMAGE_SUFFIXES, f"{path}.image_pattern",
                f"{self.image_pattern!r} must end in one of {IMAGE_SUFFIXES}")
        check_positive(self.concurrency, f"{path}.concurrency")
        check_fraction(self.max_failed_fraction, f"{path}.max_failed_fraction")
        require(self.max_trailing_bytes >= 0, f"{path}.max_trailing_bytes",
                f"{self.max_trailing_bytes} must be >= 0")


class LocalSource(NativeSize):
    def __init__(self, name: str, source_cfg: Mapping[str, Any], seed: int, *, survey: Survey):
        self.name = name
        self.path = f"survey.{name}.source"
        self.cfg = parse(LocalSourceCfg, source_cfg, self.path)
        self.id_column = self.cfg.id_column
        self.image_suffix = Path(self.cfg.image_pattern).suffix.lower()
        self._image = survey.image
        # The classes only check the labels (columns come from the labels themselves): the
        # catalogue does not depend on them, and a class edit re-reads no catalogue.
        with not_a_dependency():
            self.classes = list(survey.classes)
        for label, cls in self.cfg.label_aliases.items():
            require(cls in self.classes, f"{self.path}.label_aliases.{label}",
                    f"{cls!r} is not one of the survey's classes {self.classes}")

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
        spec = ImageSpec(self.size, self.cfg.max_trailing_bytes, f"{self.path}.max_trailing_bytes")
        jobs = [self._copy_job(str(i), folder, images, spec) for i in selected["id"]]
        # Images of another size than native_size are the params' mistake far more often than the files'.
        expected = ExpectedSize(self.size, f"survey.{self.name}.image.native_size", f"in {folder}")
        return run_jobs(jobs, self.cfg.concurrency, self.cfg.max_failed_fraction, images,
                        out_dir / MANIFEST_FILE, f"{self.path}.max_failed_fraction", f"{self.name} copy",
                        expected, spec=spec)

    def _read(self) -> pd.DataFrame:
        path = Path(self.cfg.catalogue)
        if not path.is_file():
            raise ConfigError(f"{self.path}.catalogue: {path} does not exist")
        csv = path.suffix == ".csv"
        # Ids and labels are text even when they look like numbers ("1" must match an alias "1").
        text = {column: str for column in (self.cfg.id_column, self.cfg.label_column) if column is not None}
        table = pd.read_csv(path, dtype=text) if csv else pd.read_parquet(path)
        wanted = [self.cfg.id_column, self.cfg.ra_column, self.cfg.dec_column, self.cfg.label_column]
        for key, column in zip(("id_column", "ra_column", "dec_column", "label_column"), wanted):
            if column is not None and column not in table.columns:
                raise ConfigError(f"{self.path}.{key}: {path} has no column {column!r} "
                                  f"(it has {list(table.columns)[:8]})")
        if csv:
            # The ids again, without NA conversion (which pandas cannot turn off for one column
            # only), so that an id "NA" stays "NA" and an empty one is seen as empty.
            ids = pd.read_csv(path, usecols=[self.cfg.id_column], dtype=str, keep_default_na=False)
            table[self.cfg.id_column] = ids[self.cfg.id_column]
        table[self.cfg.id_column] = self._ids(table[self.cfg.id_column], path)
        return table

    def _ids(self, ids: pd.Series, path: Path) -> pd.Series:
        """The id column as text; an id a float has rounded, an empty or a repeated id is an error."""
        key, column = f"{self.path}.id_column", self.cfg.id_column
        row = (lambda i: f"line {i + 2}") if path.suffix == ".csv" else (lambda i: f"row {i}")
        if pd.api.types.is_float_dtype(ids):
            raise ConfigError(f"{key}: column {column!r} of {path} holds floating-point numbers, which "
                              f"have lost the digits of long ids already; store the ids as integers or text")
        if pd.api.types.is_integer_dtype(ids):
            ids = ids.astype("string")
        elif not ids.dropna().map(type).eq(str).all():
            raise ConfigError(f"{key}: column {column!r} of {path} holds {ids.dtype} values; "
                              f"ids must be integers or text")
        empty = (ids.isna() | (ids.str.strip() == "")).to_numpy()
        if empty.any():
            rows = np.flatnonzero(empty)
            raise ConfigError(f"{key}: {path} {row(rows[0])} has an empty id in column {column!r}"
                              + (f" ({len(rows) - 1} more rows too)" if len(rows) > 1 else "")
                              + "; every galaxy needs one (it names the image file)")
        ids = ids.astype(str)
        again = ids.duplicated().to_numpy()
        if again.any():
            second = int(np.flatnonzero(again)[0])
            first = int(np.flatnonzero((ids == ids.iloc[second]).to_numpy())[0])
            raise ConfigError(f"{key}: id {ids.iloc[first]!r} of column {column!r} appears twice in {path}: "
                              f"{row(first)} and {row(second)}")
        return ids

    def _label_columns(self, labels: pd.Series) -> pd.DataFrame:
        """One 0/1 column ``label_is_<class>`` per class present.  A galaxy without a label is NaN in all of
        them: it fails every rule, and the select stage counts it among the missing values."""
        text = labels.map(str, na_action="ignore").astype(object)  # parquet labels may be numbers
        text = text.mask(text.str.strip() == "").map(lambda v: self.cfg.label_aliases.get(v, v),
                                                      na_action="ignore")
        unknown = text[text.notna() & ~text.isin(self.classes)].value_counts()
        if len(unknown):
            first = unknown.index[0]
            guess = (difflib.get_close_matches(first.lower(), self.classes, n=1) or ["<class>"])[0]
            raise ConfigError(
                f"{self.path}.label_column: column {self.cfg.label_column!r} of {self.cfg.catalogue} holds "
                f"labels that are not classes of survey {self.name} {self.classes}: "
                + ", ".join(f"{value!r} ({n})" for value, n in unknown.items())
                + f"; correct them or map them to classes with {self.path}.label_aliases, "
                f"e.g. {{{first}: {guess}}}")
        unlabelled = int(text.isna().sum())
        if unlabelled:
            log.warning("%s: %d of %d galaxies have no label in column %r of %s; they are not selected",
                        self.name, unlabelled, len(text), self.cfg.label_column, self.cfg.catalogue)
        columns = {f"{LABEL_PREFIX}{cls}": (text == cls).astype(float).mask(text.isna())
                   for cls in sorted(text.dropna().unique())}
        return pd.DataFrame(columns, index=labels.index)

    def _copy_job(self, galaxy_id: str, folder: Path, images: Path, spec: ImageSpec) -> Job:
        # An id that is not a plain file name is that galaxy's failure; only after it is ruled
        # out can an original outside the folder be the pattern's fault (a params error).
        refused = refusal(galaxy_id, self.cfg.image_pattern)
        if refused is not None:
            return refused
        original = inside(folder, self.cfg.image_pattern.format(id=galaxy_id), f"{self.path}.image_pattern")

        def fetch() -> bytes:
            if not original.is_file():
                # "kind: detail", so the failure summary counts the missing files as one kind
                raise DownloadError(galaxy_id, f"no image file: {original}")
            data = original.read_bytes()
            spec.check(data)
            return data

        return image_job(galaxy_id, images, self.image_suffix, str(original), fetch)
