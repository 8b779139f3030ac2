"""What ``galaxy-contrastive embed`` reads: a folder of images or a catalogue, as a list of inputs.

A folder is searched recursively for JPEG, PNG and FITS files (sorted by path); a galaxy's id is
its file name without the suffix, so ``a/123.jpg`` and ``b/123.fits`` are one id twice and the
second is rejected.  A catalogue (CSV or parquet) has an id column and, per row, either a path
(relative paths are relative to the catalogue's folder) or an ``ra``/``dec`` position whose cutout
is fetched from the model's survey.  Rows that cannot be used are not fatal: they come back as
:class:`Rejected` rows with the reason, for the command's ``OUT.rejected.csv``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import InputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fts.gz")
CATALOGUE_SUFFIXES = (".csv", ".parquet")
#: A catalogue's position columns (degrees, ICRS), as every survey source names them.
POSITION_COLUMNS = ("ra", "dec")


class CatalogueError(InputError):
    """A catalogue that cannot be read at all (missing file, unknown format, missing column)."""


@dataclass(frozen=True)
class Item:
    """One input galaxy: its id and either a file to read or a sky position to fetch."""

    id: str
    path: str                 # the input as given (a file path, or ``ra=.. dec=..``)
    file: Path | None = None  # the file to decode
    ra: float | None = None
    dec: float | None = None

    @property
    def is_fits(self) -> bool:
        return self.file is not None and self.file.name.lower().endswith(FITS_SUFFIXES)


@dataclass(frozen=True)
class Rejected:
    """An input that is not embedded, and why."""

    id: str
    path: str
    reason: str


def image_id(path: Path) -> str | None:
    """The id of an image file (its name less the suffix), None when it is no image we read."""
    name = path.name
    for suffix in sorted(IMAGE_SUFFIXES + FITS_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[:-len(suffix)]
    return None


def from_folder(folder: Path) -> tuple[list[Item], list[Rejected]]:
    """Every image file under ``folder`` (recursively, sorted by path); a repeated id is rejected."""
    items: list[Item] = []
    seen: dict[str, str] = {}
    rejected: list[Rejected] = []
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        galaxy_id = image_id(file)
        if galaxy_id is None:
            continue
        if galaxy_id in seen:
            rejected.append(Rejected(galaxy_id, str(file), f"duplicate id: also {seen[galaxy_id]}"))
            continue
        seen[galaxy_id] = str(file)
        items.append(Item(galaxy_id, str(file), file=file))
    return items, rejected


def read_catalogue(path: Path, id_column: str) -> pd.DataFrame:
    """The catalogue at ``path`` (CSV or parquet) with ids as text (never through float)."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise CatalogueError(f"{path}: no such folder or catalogue file")
    if suffix not in CATALOGUE_SUFFIXES:
        raise CatalogueError(f"{path}: a catalogue is {' or '.join(CATALOGUE_SUFFIXES)}, got {suffix or 'no suffix'}")
    try:
        # dtype=str for the id: 19-digit SDSS ids are not exactly representable as float64.
        table = (pd.read_csv(path, dtype={id_column: str}) if suffix == ".csv" else pd.read_parquet(path))
    except (OSError, ValueError) as exc:
        raise CatalogueError(f"{path}: unreadable catalogue ({exc})") from None
    if id_column not in table.columns:
        raise CatalogueError(f"{path}: no id column {id_column!r} (columns: {', '.join(map(str, table.columns))}; "
                             f"name it with --id-column)")
    return table


def from_catalogue(path: Path, id_column: str, path_column: str) -> tuple[list[Item], list[Rejected]]:
    """One item per catalogue row: its file (``path_column``) or else its ``ra``/``dec``."""
    table = read_catalogue(path, id_column)
    has_paths = path_column in table.columns
    has_positions = all(c in table.columns for c in POSITION_COLUMNS)
    if not (has_paths or has_positions):
        raise CatalogueError(f"{path}: no path column {path_column!r} and no {'/'.join(POSITION_COLUMNS)} columns "
                             f"(name the path column with --path-column)")
    n = len(table)
    ids = table[id_column].astype(object).to_numpy()
    files = table[path_column].astype(object).to_numpy() if has_paths else np.full(n, None)
    ras, decs = ((pd.to_numeric(table[c], errors="coerce").to_numpy() for c in POSITION_COLUMNS)
                 if has_positions else (np.full(n, np.nan), np.full(n, np.nan)))
    items: list[Item] = []
    rejected: list[Rejected] = []
    seen: set[str] = set()
    for row, (raw_id, file, ra, dec) in enumerate(zip(ids, files, ras, decs)):
        given = "" if _blank(file) else str(file)
        if _blank(raw_id):
            rejected.append(Rejected("", given, f"row {row}: empty {id_column}"))
            continue
        galaxy_id = str(raw_id)
        if galaxy_id in seen:
            rejected.append(Rejected(galaxy_id, given, f"row {row}: duplicate id"))
        elif given:
            seen.add(galaxy_id)
            items.append(Item(galaxy_id, given, file=path.parent / given))  # an absolute path stays itself
        elif np.isfinite(ra) and np.isfinite(dec):
            seen.add(galaxy_id)
            items.append(Item(galaxy_id, f"ra={ra} dec={dec}", ra=float(ra), dec=float(dec)))
        else:
            rejected.append(Rejected(galaxy_id, "", f"row {row}: neither {path_column} nor ra/dec"))
    return items, rejected


def collect(source: Path, id_column: str = "id", path_column: str = "path") -> tuple[list[Item], list[Rejected]]:
    """The items of a folder or a catalogue file (see the module docstring)."""
    source = Path(source)
    if source.is_dir():
        return from_folder(source)
    return from_catalogue(source, id_column, path_column)


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == ""
