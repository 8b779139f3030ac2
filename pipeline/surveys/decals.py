"""Galaxy Zoo DECaLS source: Walmsley et al. (2022) volunteer votes and Legacy Survey images.

Catalogue: ``gz_decals_volunteers_5.csv`` (Zenodo 4573248) copied whole to parquet: every
column (IAU name, position, Petrosian radii, each question's counts, fractions, debiased
fractions and totals), whatever the selection says.  The select stage applies Table 1 to that
copy, so a threshold edit never re-downloads it; the selection is only checked here, against the
volunteers_5 columns, before any request.  The DR1/2 table names the ``how-rounded`` answer
"round" ``completely``: renamed to the DR5 name the rules use.
Images, by ``images.mode`` (DESIGN sect. 2):

- ``cutout``: the Legacy Survey viewer's ``jpeg-cutout`` (layer ``ls-dr8``) at pixscale
  max(min(0.04 petro_th50, 0.02 petro_th90), 0.1) arcsec per pixel, as GZ DECaLS made them;
- ``archive``: the published PNGs, read from the Zenodo zips ``gz_decals_dr5_png_part{1..4}.zip``
  by HTTP range requests, member ``J{iauname[1:4]}/{iauname}.png``.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping

import pandas as pd

from pipeline.colour import Colour
from pipeline.config import check_positive, parse, require
from pipeline.download.columns import check_terms
from pipeline.download.http import HttpClient
from pipeline.download.images import ArchiveMembers, Job, archive_jobs, cutout_jobs, missing_jobs, run_jobs
from pipeline.download.ranged_zip import RemoteZip
from pipeline.download.settings import DownloadCfg, FetchCfg, HttpCfg, check_url
from pipeline.download.tables import fetch_catalogue, file_name
from pipeline.download.validate import ImageSpec
from pipeline.params import Survey
from pipeline.surveys import schemas
from pipeline.surveys.base import CATALOGUE_FILE, IMAGES_DIR, MANIFEST_FILE, NativeSize

CATALOGUE = "gz_decals_volunteers_5"
VOTE = re.compile(r"^([a-z0-9-]+)_([a-z0-9-]+?)(_fraction|_debiased)?$")
KNOWN_VOTES = frozenset(schemas.decals_columns()) - frozenset(schemas.DECALS_META)
PETRO = ("petro_th50", "petro_th90")
MEMBER = "{iauname}.png"


def decals_known(column: str) -> bool:
    """A volunteers_5 column: metadata, or a vote column (exactly one of ours for our questions)."""
    if column in schemas.DECALS_META or column in KNOWN_VOTES:
        return True
    match = VOTE.match(column)
    return match is not None and match.group(1) not in schemas.DECALS_QUESTIONS


def decals_range(column: str) -> tuple[float, float]:
    if column == "ra":
        return 0.0, 360.0
    if column == "dec":
        return -90.0, 90.0
    if column.endswith(("_fraction", "_debiased")):
        return 0.0, 1.0
    return 0.0, float("inf")


@dataclass(frozen=True)
class PixscaleCfg:
    """pixscale = max(min(per_th50 x petro_th50, per_th90 x petro_th90), min_arcsec)."""

    per_th50: float
    per_th90: float
    min_arcsec: float

    def validate(self, path: str) -> None:
        for name in ("per_th50", "per_th90", "min_arcsec"):
            check_positive(getattr(self, name), f"{path}.{name}")

    def arcsec_per_pixel(self, th50: float, th90: float) -> float:
        return max(min(self.per_th50 * th50, self.per_th90 * th90), self.min_arcsec)


@dataclass(frozen=True)
class DecalsCutoutCfg:
    url: str  # the viewer's jpeg-cutout endpoint
    layer: str
    pixscale: PixscaleCfg

    def validate(self, path: str) -> None:
        check_url(self.url, f"{path}.url")
        require(bool(self.layer), f"{path}.layer", "must not be empty")


@dataclass(frozen=True)
class DecalsArchiveCfg:
    urls: list[str]  # the png zips; a galaxy's image may be in any of them
    # The zips' range reads: Zenodo's own rate limit (about 60 requests a minute), not the cutouts'.
    concurrency: int
    http: HttpCfg

    def validate(self, path: str) -> None:
        check_positive(self.concurrency, f"{path}.concurrency")
        require(len(self.urls) > 0, f"{path}.urls", "needs at least one archive")
        for i, url in enumerate(self.urls):
            check_url(url, f"{path}.urls.{i}")


@dataclass(frozen=True)
class DecalsImagesCfg:
    mode: Literal["cutout", "archive"]
    fetch: FetchCfg
    cutout: DecalsCutoutCfg
    archive: DecalsArchiveCfg


@dataclass(frozen=True)
class DecalsSourceCfg:
    """``survey.<name>.source`` with ``kind: decals``."""

    kind: Literal["decals"]
    catalogue: DownloadCfg  # gz_decals_volunteers_5.csv (or the DR1/2 table)
    images: DecalsImagesCfg
    colour: Colour  # the survey's JPEG colour mapping, which FITS input applies (pipeline/colour.py)


class DecalsSource(NativeSize):
    id_column = schemas.DECALS_ID

    def __init__(self, name: str, source_cfg: Mapping[str, Any], seed: int, *, survey: Survey):
        self.name = name
        self.path = f"survey.{name}.source"
        self.cfg = parse(DecalsSourceCfg, source_cfg, self.path)
        self._image = survey.image
        self.image_suffix = ".jpg" if self.cfg.images.mode == "cutout" else ".png"
        check_terms(survey.selection, f"survey.{name}.selection", decals_known, decals_range, CATALOGUE)
        #: Columns this source reads itself (radii: the cutout scale); the catalogue keeps all.
        self.required = {c: f"{self.path}.catalogue (a {CATALOGUE} table)" for c in schemas.DECALS_META}

    @property
    def spec(self) -> ImageSpec:
        """What each fetched image must be: ``size`` square, at most the trailing bytes allowed."""
        return ImageSpec(self.size, self.cfg.images.fetch.max_trailing_bytes,
                         f"{self.path}.images.fetch.max_trailing_bytes")

    def image_identity(self) -> dict[str, Any]:
        """What the images depend on (a mirror URL or a rate limit changes none of them)."""
        images = self.cfg.images
        how = ({"layer": images.cutout.layer, "pixscale": vars(images.cutout.pixscale)}
               if images.mode == "cutout" else {"archives": [file_name(u) for u in images.archive.urls]})
        return {"kind": "decals", "mode": images.mode, "size": self.size, **how}

    def fetch_catalogue(self, out_dir: Path) -> pd.DataFrame:
        return fetch_catalogue(self.cfg.catalogue, Path(out_dir) / CATALOGUE_FILE, self.required,
                               schemas.decals_dr12_renames)

    def fetch_images(self, selected: pd.DataFrame, catalogue_dir: Path, out_dir: Path) -> pd.DataFrame:
        out_dir = Path(out_dir)
        images = out_dir / IMAGES_DIR
        if self.cfg.images.mode == "cutout":
            jobs = self._cutout_jobs(selected, Path(catalogue_dir), images)
        else:
            jobs = self._archive_jobs([str(i) for i in selected["id"]], images)
        fetch = self.cfg.images.fetch
        concurrency = fetch.concurrency if self.cfg.images.mode == "cutout" else self.cfg.images.archive.concurrency
        return run_jobs(jobs, concurrency, fetch.max_failed_fraction, images, out_dir / MANIFEST_FILE,
                        f"{self.path}.images.fetch.max_failed_fraction", f"{self.name} {self.cfg.images.mode}",
                        spec=self.spec)

    def _cutout_jobs(self, selected: pd.DataFrame, catalogue_dir: Path, images: Path) -> list[Job]:
        cutout = self.cfg.images.cutout
        radii = pd.read_parquet(catalogue_dir / CATALOGUE_FILE, columns=[self.id_column, *PETRO])
        radii = radii.set_index(radii[self.id_column].astype(str))
        queries, missing = {}, {}
        for row in selected.itertuples():
            th50, th90 = (radii.at[str(row.id), c] if str(row.id) in radii.index else math.nan for c in PETRO)
            if th50 > 0 and th90 > 0:
                queries[str(row.id)] = {"ra": f"{row.ra:.6f}", "dec": f"{row.dec:.6f}", "layer": cutout.layer,
                                        "pixscale": f"{cutout.pixscale.arcsec_per_pixel(th50, th90):.6g}",
                                        "size": self.size}
            else:
                missing[str(row.id)] = "no positive petro_th50 and petro_th90 in the catalogue"
        client = HttpClient(self.cfg.images.fetch.http)
        return (cutout_jobs(client, cutout.url, queries, self.spec, images, self.image_suffix)
                + missing_jobs(missing, images, self.image_suffix))

    def _archive_jobs(self, ids: list[str], images: Path) -> list[Job]:
        client = HttpClient(self.cfg.images.archive.http)
        members = ArchiveMembers(RemoteZip(url, client) for url in self.cfg.images.archive.urls)
        return archive_jobs(members, {i: MEMBER.format(iauname=i) for i in ids}, self.spec, images,
                            self.image_suffix)
