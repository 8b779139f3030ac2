"""Galaxy Zoo 2 source: Hart et al. (2016) votes and SDSS images (DESIGN sect. 2).

Catalogue: ``gz2_hart16.csv.gz`` streamed to disk and copied whole to parquet: every column
(id, position, ``gz2_class``, each task's votes in every variant), whatever the selection says.
The select stage applies Table 1 (in the variant ``selection.suffix`` names) to that copy, so a
threshold edit never re-downloads it; the selection is only checked here, against the Hart16
columns, before any request.  Images, by ``images.mode``:

- ``cutout``: SkyServer ``getjpeg`` at 0.02 x petroR90_r arcsec per pixel, as GZ2 made its
  images (radii from ``gz2_petro.py``);
- ``archive``: the published images, read from Zenodo's ``images_gz2.zip`` by HTTP range
  requests; ``gz2_filename_mapping.csv`` (``objid, sample, asset_id``) names the member
  ``{asset_id}.jpg`` (an objid listed several times: see ``gz2_mapping.py``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping

import pandas as pd

from pipeline.colour import Colour
from pipeline.config import check_positive, parse, require
from pipeline.download.columns import check_terms
from pipeline.download.fetch import remove_partials
from pipeline.download.http import HttpClient
from pipeline.download.errors import DownloadError, UnsafePath
from pipeline.download.images import ArchiveMembers, Job, archive_jobs, cutout_jobs, missing_jobs, run_jobs
from pipeline.download.ranged_zip import RemoteZip
from pipeline.download.settings import DownloadCfg, FetchCfg, HttpCfg, check_url
from pipeline.download.skyserver import QueryLimit, SkyServer, cutout_url
from pipeline.download.tables import fetch_catalogue, file_name
from pipeline.download.validate import ImageSpec
from pipeline.params import Survey
from pipeline.surveys import schemas
from pipeline.surveys.base import CATALOGUE_FILE, IMAGES_DIR, MANIFEST_FILE, NativeSize
from pipeline.surveys.gz2_mapping import ambiguity_report, choose_members, member_candidates
from pipeline.surveys.gz2_petro import DR7_ID, POSITION_TABLE, petro_r90_of, petro_sql, position_sql

CATALOGUE = "gz2_hart16"
HART16_VOTE = re.compile(r"^t(\d{2})_[a-z_]+_a\d{2}_[a-z_]+_(" + "|".join(schemas.HART16_SUFFIXES) + r")$")
KNOWN_VOTES = frozenset(schemas.hart16_columns()) - frozenset(schemas.HART16_META)
KNOWN_TASK_NUMBERS = frozenset(number for number, _ in schemas.HART16_TASKS.values())
PETRO_CACHE = "petro_r90.parquet"
POSITION_CACHE = "petro_r90_by_position.parquet"  # radii of galaxies matched by position (Stripe 82)


def hart16_known(column: str) -> bool:
    """A Hart16 column: metadata, or a vote column (exactly one of ours for tasks we name)."""
    if column in schemas.HART16_META:
        return True
    match = HART16_VOTE.match(column)
    if match is None:
        return False
    return column in KNOWN_VOTES or int(match.group(1)) not in KNOWN_TASK_NUMBERS


def hart16_range(column: str) -> tuple[float, float]:
    """Fractions and flags lie in [0, 1]; counts, weights and totals are >= 0."""
    if column == "ra":
        return 0.0, 360.0
    if column == "dec":
        return -90.0, 90.0
    if column.endswith(("_fraction", "_debiased", "_flag")):
        return 0.0, 1.0
    return 0.0, float("inf")


@dataclass(frozen=True)
class Gz2CutoutCfg:
    skyserver: str  # base URL of SkyServer (images and the petroR90_r query)
    data_release: int
    scale_per_petror90: float  # arcsec per pixel = this x petroR90_r (GZ2: 0.02)
    # longest URL-encoded query string of one SQL GET: ASP.NET refuses more than 2,048 by default
    max_query_chars: int
    # a galaxy whose dr7objid has no radius (Stripe 82 runs) takes the nearest PhotoObj object's
    # within this many arcsec of its Hart16 position
    match_arcsec: float
    query_http: HttpCfg

    def validate(self, path: str) -> None:
        check_url(self.skyserver, f"{path}.skyserver")
        check_positive(self.data_release, f"{path}.data_release")
        check_positive(self.scale_per_petror90, f"{path}.scale_per_petror90")
        check_positive(self.match_arcsec, f"{path}.match_arcsec")
        # room for at least one id (the largest has 19 digits)
        shortest = self.server(f"{path}.max_query_chars").query_chars(petro_sql([2 ** 63 - 1]))
        require(self.max_query_chars >= shortest, f"{path}.max_query_chars",
                f"{self.max_query_chars} leaves no room for one id: must be at least {shortest} "
                f"(the URL-encoded length of a radius query for one id)")
        # the longest box: RA wrapping at 0/360, a negative dec
        box = self.server(f"{path}.max_query_chars").query_chars(
            position_sql([(0, 359.999999, -45.0)], self.match_arcsec))
        require(self.max_query_chars >= box, f"{path}.max_query_chars",
                f"{self.max_query_chars} leaves no room for one position: must be at least {box} "
                f"(the URL-encoded length of a radius query by position for one galaxy)")

    def server(self, limit_key: str) -> SkyServer:
        """The SkyServer of the radius queries, with this length limit (``limit_key`` names it)."""
        return SkyServer(self.skyserver, self.data_release, self.query_http,
                         QueryLimit(self.max_query_chars, limit_key))


@dataclass(frozen=True)
class Gz2ArchiveCfg:
    url: str  # images_gz2.zip
    mapping: DownloadCfg  # gz2_filename_mapping.csv
    # The zip's range reads: Zenodo's own rate limit (about 60 requests a minute), not the cutouts'.
    concurrency: int
    http: HttpCfg

    def validate(self, path: str) -> None:
        check_url(self.url, f"{path}.url")
        check_positive(self.concurrency, f"{path}.concurrency")


@dataclass(frozen=True)
class Gz2ImagesCfg:
    mode: Literal["cutout", "archive"]
    fetch: FetchCfg
    cutout: Gz2CutoutCfg
    archive: Gz2ArchiveCfg


@dataclass(frozen=True)
class Gz2SourceCfg:
    """``survey.<name>.source`` with ``kind: gz2``."""

    kind: Literal["gz2"]
    catalogue: DownloadCfg  # gz2_hart16.csv.gz
    images: Gz2ImagesCfg
    colour: Colour  # the survey's JPEG colour mapping, which FITS input applies (pipeline/colour.py)


class Gz2Source(NativeSize):
    id_column = schemas.HART16_ID
    image_suffix = ".jpg"

    def __init__(self, name: str, source_cfg: Mapping[str, Any], seed: int, *, survey: Survey):
        self.name = name
        self.path = f"survey.{name}.source"
        self.cfg = parse(Gz2SourceCfg, source_cfg, self.path)
        self._image = survey.image
        check_terms(survey.selection, f"survey.{name}.selection", hart16_known, hart16_range, CATALOGUE)
        #: Columns this source reads itself; the catalogue keeps all the others too.
        self.required = {c: f"{self.path}.catalogue (a {CATALOGUE} table)"
                         for c in (schemas.HART16_ID, "ra", "dec", "gz2_class")}

    @property
    def spec(self) -> ImageSpec:
        """What each fetched image must be: ``size`` square, at most the trailing bytes allowed."""
        return ImageSpec(self.size, self.cfg.images.fetch.max_trailing_bytes,
                         f"{self.path}.images.fetch.max_trailing_bytes")

    def image_identity(self) -> dict[str, Any]:
        """What the images depend on (a mirror URL or a rate limit changes none of them)."""
        images = self.cfg.images
        how = ({"data_release": images.cutout.data_release, "scale_per_petror90": images.cutout.scale_per_petror90}
               if images.mode == "cutout" else {"archive": file_name(images.archive.url)})
        return {"kind": "gz2", "mode": images.mode, "size": self.size, **how}

    def fetch_catalogue(self, out_dir: Path) -> pd.DataFrame:
        return fetch_catalogue(self.cfg.catalogue, Path(out_dir) / CATALOGUE_FILE, self.required)

    def fetch_images(self, selected: pd.DataFrame, catalogue_dir: Path, out_dir: Path) -> pd.DataFrame:
        out_dir = Path(out_dir)
        images = out_dir / IMAGES_DIR
        images.mkdir(parents=True, exist_ok=True)
        remove_partials(out_dir)  # side files (mapping, radii) of an interrupted run
        ids = [str(i) for i in selected["id"]]
        if self.cfg.images.mode == "cutout":
            jobs = self._cutout_jobs(selected, out_dir)
        else:
            jobs = self._archive_jobs(ids, out_dir)
        fetch = self.cfg.images.fetch
        concurrency = fetch.concurrency if self.cfg.images.mode == "cutout" else self.cfg.images.archive.concurrency
        return run_jobs(jobs, concurrency, fetch.max_failed_fraction, images, out_dir / MANIFEST_FILE,
                        f"{self.path}.images.fetch.max_failed_fraction", f"{self.name} {self.cfg.images.mode}",
                        spec=self.spec)

    def _cutout_jobs(self, selected: pd.DataFrame, out_dir: Path) -> list[Job]:
        cutout = self.cfg.images.cutout
        server = cutout.server(f"{self.path}.images.cutout.max_query_chars")
        galaxies = pd.DataFrame({DR7_ID: [int(i) for i in selected["id"]],
                                 "ra": selected["ra"].to_numpy(), "dec": selected["dec"].to_numpy()})
        radii, by_position = petro_r90_of(server, galaxies, cutout.match_arcsec, out_dir / PETRO_CACHE,
                                          out_dir / POSITION_CACHE)
        print(f"{self.name} cutout: {len(by_position)} petroR90_r by position in SkyServer {POSITION_TABLE} "
              f"(dr7objid not in PhotoObjDR7)")
        radii = {**radii, **by_position}
        queries, missing = {}, {}
        for row in selected.itertuples():
            radius = radii.get(int(row.id), float("nan"))
            if radius > 0:
                queries[str(row.id)] = {"ra": f"{row.ra:.6f}", "dec": f"{row.dec:.6f}",
                                        "scale": f"{cutout.scale_per_petror90 * radius:.6g}",
                                        "width": self.size, "height": self.size}
            else:
                missing[str(row.id)] = (f"no petroR90_r for this dr7objid in SkyServer PhotoObjDR7, nor an object "
                                        f"within {cutout.match_arcsec:g} arcsec of its position in {POSITION_TABLE}")
        client = HttpClient(self.cfg.images.fetch.http)
        images = out_dir / IMAGES_DIR
        return (cutout_jobs(client, cutout_url(cutout.skyserver, cutout.data_release), queries, self.spec,
                            images, self.image_suffix)
                + missing_jobs(missing, images, self.image_suffix))

    def _archive_jobs(self, ids: list[str], out_dir: Path) -> list[Job]:
        archive = self.cfg.images.archive
        mapping_file = out_dir / file_name(archive.mapping.url)
        if not mapping_file.exists():  # kept: a rerun needs it again
            HttpClient(archive.mapping.http).download(archive.mapping.url, mapping_file)
        candidates = member_candidates(mapping_file)
        client = HttpClient(archive.http)
        members = ArchiveMembers([RemoteZip(archive.url, client)])
        images = out_dir / IMAGES_DIR
        wanted = {i: candidates[i] for i in ids if i in candidates}
        # An objid listed with several assets needs the archive's directory to pick the one it
        # holds (gz2_mapping); images already on disk need nothing, so a rerun asks for nothing.
        undecided = [name for i, names in wanted.items() if len(names) > 1
                     and not (images / f"{i}{self.image_suffix}").exists() for name in names]
        try:
            present = members.present(undecided) if undecided else set()
        except (DownloadError, UnsafePath):
            present = set()  # the same error then fails each job, in the manifest
        found, ambiguous = choose_members(wanted, present)
        if ambiguous:
            print(f"{self.name} archive: {ambiguity_report(ambiguous)}")
        missing = {i: f"no asset_id in {mapping_file.name}" for i in ids if i not in candidates}
        return (archive_jobs(members, found, self.spec, images, self.image_suffix)
                + missing_jobs(missing, images, self.image_suffix))
