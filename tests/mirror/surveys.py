"""The three paper surveys behind one loopback mirror, and params that point at it.

Paths copy the real servers' (``/gz2hart/...``, ``/zenodo/records/<id>/files/...``,
``/dr17/...`` of SkyServer, ``/viewer/jpeg-cutout`` of the Legacy Survey), so the params differ
from the real ones only in the host.  Zips are built on request (``add_archives``): the DECaLS
PNGs take a moment.
"""
from __future__ import annotations

import gzip
import io
import zipfile
import zlib
from typing import Any

import numpy as np
import pandas as pd

from tests.mirror import catalogues, zips
from tests.mirror.drawings import galaxy_image
from tests.mirror.server import Mirror
from tests.mirror.skyserver import SqlServer, cutout_handler, cutout_path, sql_path

RELEASE = 17
GZ2_CATALOGUE = "/gz2hart/gz2_hart16.csv.gz"
GZ2_ZIP = "/zenodo/records/3565489/files/images_gz2.zip"
GZ2_MAPPING = "/zenodo/records/3565489/files/gz2_filename_mapping.csv"
DECALS_CATALOGUE = "/zenodo/records/4573248/files/gz_decals_volunteers_5.csv"
DECALS_ZIPS = tuple(f"/zenodo/records/4573248/files/gz_decals_dr5_png_part{i}.zip" for i in (1, 2))
LEGACY_CUTOUT = "/viewer/jpeg-cutout"
SIZE = {"gz2": 424, "sdss": 128, "decals": 424}
MACOS_FILLER = 70_000  # tiny entries making the macOS-style GZ2 zip wrap its 16-bit entry count
COUNTS = {"gz2": {"elliptical": 8, "edge_on": 8, "spiral": 8, catalogues.NONE: 4},
          "sdss": {"elliptical": 8, "edge_on": 8, "spiral": 8, catalogues.NONE: 4},
          "decals": {"round": 8, "elliptical": 8, "edge_on": 8, "spiral": 8, catalogues.NONE: 4}}


def fast_http(**changes: Any) -> dict[str, Any]:
    """Client settings for tests: no real waiting, a read timeout below the mirror's hang, a
    deadline of seconds (a trickle fault ends quickly) and a cap above the mirror's largest reply."""
    return {"rate_per_s": 500.0, "burst": 8, "retries": 3, "backoff_s": 0.01, "backoff_max_s": 2.0,
            "connect_timeout_s": 2.0, "read_timeout_s": 0.5, "deadline_s": 3.0, "max_bytes": 16_000_000,
            **changes}


class SurveyMirror:
    """GZ2, SDSS DR17 and GZ DECaLS files on ``mirror``, generated from ``seed``."""

    def __init__(self, mirror: Mirror, seed: int = 0, counts: dict[str, dict[str, int]] | None = None,
                 sql_max_rows: int = 500_000, stripe82_share: float = 0.0):
        """``stripe82_share``: that share of the GZ2 galaxies are Stripe 82 rows, found in
        ``PhotoObj`` by position only (:func:`catalogues.gz2`)."""
        counts = counts or COUNTS
        rng = np.random.default_rng(seed)
        self.mirror = mirror
        self.gz2, self.photometry = catalogues.gz2(counts["gz2"], rng, stripe82_share)
        photometry = self.photometry
        self.sdss = catalogues.sdss(counts["sdss"], rng)
        self.decals = catalogues.decals(counts["decals"], rng)
        self.positions = {**self.gz2.positions, **self.sdss.positions, **self.decals.positions}

        mirror.serve_bytes(GZ2_CATALOGUE, gzip.compress(self.gz2.table.to_csv(index=False).encode()),
                           "application/x-gzip")
        mirror.serve_bytes(DECALS_CATALOGUE, self.decals.table.to_csv(index=False).encode(), "text/csv")
        zoo, galaxy = catalogues.sdss_tables(self.sdss.table)
        self.sql = SqlServer({"zooNoSpec": zoo, "Galaxy": galaxy,
                              "PhotoObjDR7": photometry.loc[photometry["sample"] != catalogues.STRIPE82,
                                                            ["dr7objid", "dr8objid"]],
                              "PhotoObj": catalogues.gz2_objects(photometry),
                              "PhotoObjAll": photometry[["dr8objid", "petroR90_r"]].rename(columns={"dr8objid": "objid"})},
                             max_rows=sql_max_rows)
        mirror.serve(sql_path(RELEASE), self.sql)
        mirror.serve(cutout_path(RELEASE), cutout_handler(self.draw, "width", "height"))
        mirror.serve(LEGACY_CUTOUT, cutout_handler(self.draw, "size", "size"))

    def draw(self, ra: str, dec: str, width: int, height: int) -> bytes:
        """The galaxy at (ra, dec) (empty sky elsewhere), as a JPEG."""
        label = self.positions.get((ra, dec), catalogues.NONE)
        return galaxy_image(label, width, zlib.crc32(f"{ra},{dec}".encode()), height=height)

    def add_archives(self, surveys: tuple[str, ...] = ("gz2", "decals"), *, macos_zip: bool = False,
                     duplicate_mapping: bool = False) -> None:
        """Serve the GZ2 zip + id mapping and the DECaLS PNG zips (range requests supported).

        ``macos_zip``: the GZ2 zip as macOS tools write one (:mod:`tests.mirror.zips`: over 65,535
        entries, a wrapped count, ``__MACOSX`` files); ``duplicate_mapping``: objids listed under
        several samples, as in the real mapping (:meth:`_gz2_assets`).  Either way
        ``gz2_assets`` names each galaxy's image: the asset_id the source must take.
        """
        if "gz2" in surveys:
            self._add_gz2_archive(macos_zip, duplicate_mapping)
        if "decals" in surveys:
            self._add_decals_archives()

    def _add_gz2_archive(self, macos: bool, duplicates: bool) -> None:
        rows, held = self._gz2_assets(duplicates)
        self.gz2_assets = {gid: assets[0] for gid, assets in held.items()}
        mapping = pd.DataFrame(rows, columns=["objid", "sample", "asset_id"])
        self.mirror.serve_bytes(GZ2_MAPPING, mapping.to_csv(index=False).encode(), "text/csv")
        images = {f"images/{asset}.jpg": galaxy_image(self.gz2.labels[gid], SIZE["gz2"], asset)
                  for gid, assets in held.items() for asset in assets}
        body = (zips.macos_zip(images, MACOS_FILLER, zips.DEFLATED) if macos
                else build_zip(images, zipfile.ZIP_DEFLATED))
        self.mirror.serve_bytes(GZ2_ZIP, body)

    def _gz2_assets(self, duplicates: bool) -> tuple[list[tuple[str, str, int]], dict[str, list[int]]]:
        """Mapping rows (objid, sample, asset_id) and the assets the zip holds by objid, the one
        the source must take first.

        Plain: one ``original`` row each.  ``duplicates``, by galaxy in turn: one row; then an
        ``original`` row naming an image not in the zip and an ``extra`` row naming one in it;
        then a ``stripe82`` row (last), its image in the zip too and its asset_id lower than the
        ``original`` one (ambiguous: ``original`` wins); then no ``original`` row, two
        ``stripe82`` images in the zip and a missing ``extra`` one in the last row (ambiguous:
        the lowest asset_id wins).
        """
        rows: list[tuple[str, str, int]] = []
        held: dict[str, list[int]] = {}
        for i, gid in enumerate(self.gz2.labels):
            kind = i % 4 if duplicates else 0
            if kind == 3:
                # 600 + i is the lower number but the higher text: the ids are compared as numbers
                rows += [(gid, "stripe82", 3000 + i), (gid, "stripe82_coadd", 600 + i), (gid, "extra", 900_000 + i)]
                held[gid] = [600 + i, 3000 + i]
                continue
            rows.append((gid, "original", 1000 + i))
            held[gid] = [1000 + i]
            if kind == 1:
                rows.append((gid, "extra", 4000 + i))
                held[gid] = [4000 + i]
            elif kind == 2:
                rows.append((gid, "stripe82", 500 + i))
                held[gid].append(500 + i)
        return rows, held

    def _add_decals_archives(self) -> None:
        names = list(self.decals.labels)
        for part, path in enumerate(DECALS_ZIPS):
            members = {f"{name[:4]}/{name}.png": galaxy_image(self.decals.labels[name], SIZE["decals"], i, "PNG")
                       for i, name in enumerate(names) if i % len(DECALS_ZIPS) == part}
            self.mirror.serve_bytes(path, build_zip(members, zipfile.ZIP_STORED))

    def source_params(self, http: dict[str, Any] | None = None, images_mode: str = "cutout") -> dict[str, dict]:
        """``survey.<gz2|sdss|decals>.source`` blocks pointing at this mirror."""
        url, http = self.mirror.url, http or fast_http()
        fetch = {"concurrency": 4, "max_failed_fraction": 0.1, "max_trailing_bytes": 0, "http": http}
        colour = {"bands": ["i", "r", "g"], "band_weights": [1.0, 1.1, 1.6], "asinh_q": 8.0, "asinh_stretch_sb": 20.75}
        return {
            "gz2": {"kind": "gz2", "colour": colour, "catalogue": {"url": url + GZ2_CATALOGUE, "http": http},
                    "images": {"mode": images_mode, "fetch": fetch,
                               "cutout": {"skyserver": url, "data_release": RELEASE, "scale_per_petror90": 0.02,
                                          "max_query_chars": 400, "match_arcsec": 1.0, "query_http": http},
                               "archive": {"url": url + GZ2_ZIP, "mapping": {"url": url + GZ2_MAPPING, "http": http},
                                           "concurrency": 2, "http": http}}},
            "sdss": {"kind": "sdss", "colour": colour, "skyserver": url, "data_release": RELEASE,
                     "query": {"page_rows": 10, "http": http},
                     "images": {"scale_arcsec": 0.2, "fetch": fetch}},
            "decals": {"kind": "decals", "colour": {**colour, "bands": ["z", "r", "g"]}, "catalogue": {"url": url + DECALS_CATALOGUE, "http": http},
                       "images": {"mode": images_mode, "fetch": fetch,
                                  "cutout": {"url": url + LEGACY_CUTOUT, "layer": "ls-dr8",
                                             "pixscale": {"per_th50": 0.04, "per_th90": 0.02, "min_arcsec": 0.1}},
                                  "archive": {"urls": [url + p for p in DECALS_ZIPS], "concurrency": 2, "http": http}}},
        }


def build_zip(members: dict[str, bytes], compression: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()
