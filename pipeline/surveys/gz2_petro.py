"""Petrosian radii of GZ2 galaxies, for cutouts at the scale GZ2 used (0.02 x petroR90_r "/px).

Hart16 carries no sizes.  ``petroR90_r`` comes from SkyServer DR17: ``PhotoObjDR7`` matches each
DR7 objid (Hart16's ``dr7objid``) to its DR8+ photometric object, ``PhotoObjAll`` holds the
radius.  GZ2 measured it on DR7 imaging; the DR8+ reprocessing of the same frames differs little.
Ids go in ``IN (...)`` lists keeping each query string, URL-encoded, within the server's limit
(``SkyServer.batches``: SkyServer takes SQL in the URL, ASP.NET refuses long ones), and the
radii are cached next to the images so a rerun asks only for what it lacks.

Stripe 82 (issue 9): Hart16's ``stripe82`` rows (3.6%) carry objids of the Stripe 82 runs, which
``PhotoObjDR7`` (DR7 "Best") may not list; alone they would exceed the images' failure limit.
A galaxy whose dr7objid gives no radius takes that of the nearest DR17 primary object
(``PhotoObj``) within ``images.cutout.match_arcsec`` of its Hart16 position: the same galaxy,
measured on the same sky.  Box conditions of several galaxies go in one query joined with
``OR`` (``SkyServer.batches`` keeps each within the limit); the nearest object is chosen here by
angular separation.  Those radii have their own cache, next to the other.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.download.skyserver import SkyServer, as_int64
from pipeline.download.tables import write_parquet

PETRO_R90 = "petroR90_r"
DR7_ID = "dr7objid"
#: DR17's primary photometric objects (one per source on the sky), where positions are matched.
POSITION_TABLE = "PhotoObj"
SEPARATION = "separation_arcsec"


def petro_sql(dr7_ids: list[int]) -> str:
    ids = ",".join(str(int(i)) for i in dr7_ids)
    return (f"SELECT m.{DR7_ID}, p.{PETRO_R90} FROM PhotoObjDR7 AS m "
            f"JOIN PhotoObjAll AS p ON p.objid = m.dr8objid WHERE m.{DR7_ID} IN ({ids})")


def petro_r90(server: SkyServer, dr7_ids: list[int], cache: Path) -> dict[int, float]:
    """``petroR90_r`` (arcsec) of each DR7 objid SkyServer knows; unknown ids are left out.

    Each id is asked once, in queries within ``server.limit``."""
    # Explicit dtypes: 19-digit objids must never pass through float64 (2**53 < 10**18).
    known = (pd.read_parquet(cache) if cache.exists()
             else pd.DataFrame({DR7_ID: pd.Series(dtype="int64"), PETRO_R90: pd.Series(dtype="float64")}))
    todo = sorted(set(dr7_ids) - set(known[DR7_ID]))
    what = f"{PETRO_R90} of GZ2 galaxies"
    chunks = list(server.batches(todo, petro_sql, what))
    for n, chunk in enumerate(chunks, 1):
        rows = server.query(petro_sql(chunk), f"{what}, query {n} of {len(chunks)}")
        if len(rows):
            known = pd.concat([known, rows[[DR7_ID, PETRO_R90]].astype(known.dtypes.to_dict())],
                              ignore_index=True)
            write_parquet(known, cache)
    return dict(zip(known[DR7_ID], known[PETRO_R90]))


def box_sql(ra: float, dec: float, radius_arcsec: float) -> str:
    """A condition on ``ra``, ``dec`` (degrees) holding every object within ``radius_arcsec`` of
    (ra, dec): the RA range widens as 1 / cos(dec), wraps at 0/360 and spans all RA at a pole."""
    radius = math.radians(radius_arcsec / 3600)
    dec_rows = f"dec BETWEEN {dec - math.degrees(radius):.6f} AND {dec + math.degrees(radius):.6f}"
    cos_dec = math.cos(math.radians(dec))
    reach = math.sin(radius) / cos_dec if cos_dec > 0 else math.inf  # sin of the RA half-width
    if reach >= 1:  # the circle holds a pole
        return f"({dec_rows})"
    half = math.degrees(math.asin(reach))
    low, high = ra - half, ra + half
    if low < 0:
        ras = f"(ra BETWEEN {low + 360:.6f} AND 360 OR ra BETWEEN 0 AND {high:.6f})"
    elif high >= 360:
        ras = f"(ra BETWEEN {low:.6f} AND 360 OR ra BETWEEN 0 AND {high - 360:.6f})"
    else:
        ras = f"ra BETWEEN {low:.6f} AND {high:.6f}"
    return f"({dec_rows} AND {ras})"


def position_sql(galaxies: list[tuple[int, float, float]], radius_arcsec: float) -> str:
    """The objects within ``radius_arcsec`` of any of ``galaxies`` (dr7objid, ra, dec)."""
    boxes = " OR ".join(box_sql(ra, dec, radius_arcsec) for _, ra, dec in galaxies)
    return f"SELECT objid, ra, dec, {PETRO_R90} FROM {POSITION_TABLE} WHERE {boxes}"


def separation_arcsec(ra1: float, dec1: float, ra2: np.ndarray, dec2: np.ndarray) -> np.ndarray:
    """Angular separations (haversine: exact at arcseconds, and across RA 0/360)."""
    ra1, dec1, ra2, dec2 = map(np.radians, (ra1, dec1, np.asarray(ra2, float), np.asarray(dec2, float)))
    h = np.sin((dec2 - dec1) / 2) ** 2 + np.cos(dec1) * np.cos(dec2) * np.sin((ra2 - ra1) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(h, 0, 1)))) * 3600


def nearest(galaxies: list[tuple[int, float, float]], objects: pd.DataFrame, radius_arcsec: float,
            what: str) -> pd.DataFrame:
    """For each galaxy (dr7objid, ra, dec), the nearest of ``objects`` within ``radius_arcsec``:
    (dr7objid, objid, separation_arcsec, petroR90_r); galaxies with none are left out."""
    rows = []
    if len(objects):
        ids = as_int64(objects["objid"], what)
        for dr7_id, ra, dec in galaxies:
            separations = separation_arcsec(ra, dec, objects["ra"], objects["dec"])
            best = int(np.argmin(separations))
            if separations[best] <= radius_arcsec:
                rows.append((dr7_id, ids.iloc[best], separations[best], float(objects[PETRO_R90].iloc[best])))
    return pd.DataFrame(rows, columns=[DR7_ID, "objid", SEPARATION, PETRO_R90]).astype(
        {DR7_ID: "int64", "objid": "int64", SEPARATION: "float64", PETRO_R90: "float64"})


def position_matches(cache: Path, radius_arcsec: float) -> pd.DataFrame:
    """The cached position matches (as :func:`nearest` gives them) within ``radius_arcsec``."""
    if not cache.exists():
        return nearest([], pd.DataFrame(), radius_arcsec, "")
    cached = pd.read_parquet(cache)
    return cached[cached[SEPARATION] <= radius_arcsec].reset_index(drop=True)


def petro_r90_of(server: SkyServer, galaxies: pd.DataFrame, radius_arcsec: float, id_cache: Path,
                 position_cache: Path) -> tuple[dict[int, float], dict[int, float]]:
    """Radii of ``galaxies`` (dr7objid, ra, dec) by dr7objid (:func:`petro_r90`), and by position
    (:func:`petro_r90_by_position`) for those without a positive one; a galaxy already matched
    by position is not asked by dr7objid again, so a rerun asks nothing."""
    matched = set(position_matches(position_cache, radius_arcsec)[DR7_ID])
    by_id = petro_r90(server, [int(i) for i in galaxies[DR7_ID] if int(i) not in matched], id_cache)
    unknown = galaxies[[not by_id.get(int(i), 0) > 0 for i in galaxies[DR7_ID]]]
    return by_id, petro_r90_by_position(server, unknown, radius_arcsec, position_cache)


def petro_r90_by_position(server: SkyServer, galaxies: pd.DataFrame, radius_arcsec: float,
                          cache: Path) -> dict[int, float]:
    """``petroR90_r`` (arcsec) of the nearest ``PhotoObj`` object within ``radius_arcsec`` of each
    of ``galaxies`` (columns dr7objid, ra, dec), by dr7objid; galaxies with none are left out.

    Each galaxy is asked once (a cached match farther than ``radius_arcsec`` is asked again)."""
    known = position_matches(cache, radius_arcsec)
    done = set(known[DR7_ID])
    todo = [(int(i), float(ra), float(dec)) for i, ra, dec in galaxies[[DR7_ID, "ra", "dec"]].itertuples(index=False)
            if int(i) not in done]
    what = f"{PETRO_R90} of GZ2 galaxies by position in {POSITION_TABLE}"
    chunks = list(server.batches(todo, lambda group: position_sql(group, radius_arcsec), what))
    for n, chunk in enumerate(chunks, 1):
        where = f"{what}, query {n} of {len(chunks)}"
        found = nearest(chunk, server.query(position_sql(chunk, radius_arcsec), where), radius_arcsec, where)
        if len(found):
            known = pd.concat([known, found], ignore_index=True)
            write_parquet(known, cache)
    return dict(zip(known[DR7_ID], known[PETRO_R90]))
