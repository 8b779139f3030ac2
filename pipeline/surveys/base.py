"""The interface every survey source implements (simulated, GZ2, SDSS, DECaLS, local).

A source does two things, in two DVC stages: it writes the survey's catalogue (vote table in the
real catalogue's schema) and, after selection, it fetches (or renders) the images of the selected
galaxies.  Everything downstream of the source is the same code for every survey.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from pipeline.paths import MANIFEST_FILE  # noqa: F401 - the sources' name for it

#: File names inside a source's output folders; one place for each.
CATALOGUE_FILE = "catalogue.parquet"
IMAGES_DIR = "images"
#: What later stages need to know of the source (its id column, its image files' suffix),
#: written next to the catalogue and the images: they read it there, a data dependency, instead
#: of building the source from params they do not declare.
SOURCE_INFO_FILE = "source.json"


class NativeSize:
    """``size``, the side of the survey's images (``survey.<name>.image.native_size``), read when
    images are made rather than when the source is built: a source is built by the catalogue
    stage too, whose output does not depend on it (and which does not declare it in dvc.yaml)."""

    _image: Any  # the survey's pipeline.params.Image

    @property
    def size(self) -> int:
        return self._image.native_size


class Source(Protocol):
    """A survey source.  ``id_column`` names the catalogue's object id (e.g. ``dr7objid``)."""

    id_column: str
    image_suffix: str  # ".jpg" or ".png": images are written as ``images/<id><suffix>``

    def fetch_catalogue(self, out_dir: Path) -> pd.DataFrame:
        """Write ``out_dir/catalogue.parquet`` (plus any private side files) and return it."""
        ...

    def fetch_images(self, selected: pd.DataFrame, catalogue_dir: Path, out_dir: Path) -> pd.DataFrame:
        """Write ``out_dir/images/<id><suffix>`` for each row of ``selected``.

        ``selected`` has at least the columns ``id`` (str), ``ra``, ``dec`` and ``label``.
        Returns the manifest: one row per id with ``status`` ("ok" or "failed") and ``reason``.
        """
        ...

    def image_identity(self) -> dict:
        """What the images depend on (not a mirror URL or a rate limit).  The images stage keeps
        complete images across reruns and discards them when this changes."""
        ...


def write_source_info(folder: Path, source: Source, **extra: Any) -> None:
    """``folder/source.json``: the source's id column and image suffix, plus ``extra``."""
    info = {"id_column": source.id_column, "image_suffix": source.image_suffix, **extra}
    (Path(folder) / SOURCE_INFO_FILE).write_text(json.dumps(info, sort_keys=True) + "\n")


def read_source_info(folder: Path) -> dict[str, Any]:
    """What :func:`write_source_info` wrote in ``folder`` (an {} when it is not there)."""
    path = Path(folder) / SOURCE_INFO_FILE
    return json.loads(path.read_text()) if path.exists() else {}
