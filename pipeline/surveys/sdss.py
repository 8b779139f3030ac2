"""SDSS DR17 source: the zooNoSpec x Galaxy catalogue by SQL, and SkyServer JPEG cutouts.

Catalogue: the whole zooNoSpec x Galaxy table by the fixed query of ``sdss_sql.py`` through
SkyServer (astroquery, ``cache=False``), paged by objid so that no query meets the server's row
limit.  The selection (Table 1 thresholds, ``clean``, ``nvote``) is applied locally by the select
stage, never in the SQL, so a threshold edit never re-downloads the catalogue; it is only checked
here, before any request.  ``ra``, ``dec`` are the Galaxy view's float64 positions (see
``sdss_sql.py``); ``objid`` and ``dr7objid`` are exact int64, ``specobjid`` (which may exceed
int64) is text.  Images: ``getjpeg`` at a fixed scale (0.2"/px) and
``survey.<name>.image.native_size`` pixels (128), as the paper (DESIGN sect. 1-2).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping

import pandas as pd

from pipeline.colour import Colour
from pipeline.config import check_positive, parse, require
from pipeline.download.http import HttpClient
from pipeline.download.images import Job, cutout_jobs, run_jobs
from pipeline.download.settings import FetchCfg, HttpCfg, check_url
from pipeline.download.errors import DownloadError
from pipeline.download.skyserver import MAX_ROWS, SkyServer, as_int64, cutout_url
from pipeline.download.tables import write_parquet
from pipeline.download.validate import ImageSpec
from pipeline.params import Survey
from pipeline.surveys import schemas
from pipeline.surveys.base import CATALOGUE_FILE, IMAGES_DIR, MANIFEST_FILE, NativeSize
from pipeline.surveys.sdss_sql import CATALOGUE, check_selection, page_sql


@dataclass(frozen=True)
class SdssQueryCfg:
    page_rows: int  # rows per query, below SkyServer's row limit
    http: HttpCfg

    def validate(self, path: str) -> None:
        require(1 <= self.page_rows <= MAX_ROWS, f"{path}.page_rows",
                f"{self.page_rows} must lie in [1, {MAX_ROWS}] (SkyServer's row limit)")


@dataclass(frozen=True)
class SdssImagesCfg:
    scale_arcsec: float  # arcsec per pixel of the cutout
    fetch: FetchCfg

    def validate(self, path: str) -> None:
        check_positive(self.scale_arcsec, f"{path}.scale_arcsec")


@dataclass(frozen=True)
class SdssSourceCfg:
    """``survey.<name>.source`` with ``kind: sdss``."""

    kind: Literal["sdss"]
    skyserver: str  # base URL: https://skyserver.sdss.org, or a mirror
    data_release: int
    query: SdssQueryCfg
    images: SdssImagesCfg
    colour: Colour  # the survey's JPEG colour mapping, which FITS input applies (pipeline/colour.py)

    def validate(self, path: str) -> None:
        check_url(self.skyserver, f"{path}.skyserver")
        check_positive(self.data_release, f"{path}.data_release")


class SdssSource(NativeSize):
    """Galaxy Zoo 1 votes of SDSS photometric galaxies (``zooNoSpec``) and SkyServer cutouts."""

    id_column = schemas.ZOONOSPEC_ID
    image_suffix = ".jpg"

    def __init__(self, name: str, source_cfg: Mapping[str, Any], seed: int, *, survey: Survey):
        self.name = name
        self.path = f"survey.{name}.source"
        self.cfg = parse(SdssSourceCfg, source_cfg, self.path)
        self._image = survey.image
        check_selection(survey.selection, f"survey.{name}.selection")

    def image_identity(self) -> dict[str, Any]:
        """What the images depend on (a mirror URL or a rate limit changes none of them)."""
        return {"kind": "sdss", "data_release": self.cfg.data_release,
                "scale_arcsec": self.cfg.images.scale_arcsec, "size": self.size}

    def fetch_catalogue(self, out_dir: Path) -> pd.DataFrame:
        server = SkyServer(self.cfg.skyserver, self.cfg.data_release, self.cfg.query.http)
        rows = self.cfg.query.page_rows
        what = f"{self.name} catalogue ({CATALOGUE})"
        table = server.query_pages(lambda after: page_sql(rows, after), schemas.ZOONOSPEC_ID, rows, what)
        if table.empty:
            raise DownloadError(what, f"the query returned no galaxy; check {self.path}.skyserver "
                                      f"and {self.path}.data_release")
        for column in (schemas.ZOONOSPEC_ID, "dr7objid"):  # 64-bit in the schema; text as read
            table[column] = as_int64(table[column], what)
        write_parquet(table, Path(out_dir) / CATALOGUE_FILE)
        return table

    def image_spec(self) -> ImageSpec:
        fetch = self.cfg.images.fetch
        return ImageSpec(self.size, fetch.max_trailing_bytes, f"{self.path}.images.fetch.max_trailing_bytes")

    def cutout_jobs(self, positions: pd.DataFrame, images_dir: Path) -> list[Job]:
        """One getjpeg job per row (``id``, ``ra``, ``dec``) of ``positions``, writing
        ``images_dir/<id>.jpg`` (also used by ``galaxy-contrastive embed`` for ra/dec input)."""
        queries = {str(row.id): {"ra": f"{row.ra:.6f}", "dec": f"{row.dec:.6f}",
                                 "scale": f"{self.cfg.images.scale_arcsec:g}",
                                 "width": self.size, "height": self.size}
                   for row in positions.itertuples()}
        url = cutout_url(self.cfg.skyserver, self.cfg.data_release)
        return cutout_jobs(HttpClient(self.cfg.images.fetch.http), url, queries, self.image_spec(), images_dir,
                           self.image_suffix)

    def fetch_images(self, selected: pd.DataFrame, catalogue_dir: Path, out_dir: Path) -> pd.DataFrame:
        out_dir = Path(out_dir)
        fetch = self.cfg.images.fetch
        spec = self.image_spec()
        jobs = self.cutout_jobs(selected, out_dir / IMAGES_DIR)
        return run_jobs(jobs, fetch.concurrency, fetch.max_failed_fraction, out_dir / IMAGES_DIR,
                        out_dir / MANIFEST_FILE, f"{self.path}.images.fetch.max_failed_fraction",
                        f"{self.name} cutouts", spec=spec)
