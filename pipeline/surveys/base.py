"""The interface every survey source implements (simulated, GZ2, SDSS, DECaLS, local).

A source does two things, in two DVC stages: it writes the survey's catalogue (vote table in the
real catalogue's schema) and, after selection, it fetches (or renders) the images of the selected
galaxies.  Everything downstream of the source is the same code for every survey.
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol

import pandas as pd

#: File names inside a source's output folders; one place for each.
CATALOGUE_FILE = "catalogue.parquet"
IMAGES_DIR = "images"
MANIFEST_FILE = "manifest.csv"


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
