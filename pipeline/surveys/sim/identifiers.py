"""Sky positions and catalogue identifiers of simulated galaxies, in each schema's format.

GZ2 and SDSS galaxies carry SDSS objIDs packed from (run, camcol, field, obj); GZ DECaLS galaxies
an IAU name built from the position.  Identifiers are unique within a catalogue.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.surveys import schemas
from pipeline.surveys.sim.config import Schema, SkyCfg

#: The catalogue id column of each schema (the images are named after it).
ID_COLUMN: dict[str, str] = {
    "gz2_hart16": schemas.HART16_ID,
    "zoonospec": schemas.ZOONOSPEC_ID,
    "gz_decals_volunteers_5": schemas.DECALS_ID,
}


def sky_positions(sky: SkyCfg, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` positions uniform on the sphere inside the footprint's ra/dec box (degrees)."""
    ra = rng.uniform(*sky.ra_deg, size=n)
    sin_dec = rng.uniform(*np.sin(np.radians(sky.dec_deg)), size=n)
    return ra, np.degrees(np.arcsin(sin_dec))


def identifiers(schema: Schema, sky: SkyCfg, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Positions and id columns (``ra``, ``dec`` plus the schema's ids), unique ids guaranteed."""
    ra, dec = sky_positions(sky, n, rng)
    if schema == "gz_decals_volunteers_5":
        names = [schemas.iau_name(a, d) for a, d in zip(ra, dec, strict=True)]
        if len(set(names)) < n:  # two galaxies within 0.1": impossible at survey densities
            raise RuntimeError("duplicate IAU names; widen the footprint")
        return pd.DataFrame({schemas.DECALS_ID: names, "ra": ra, "dec": dec})
    parts = _unique_sdss_parts(n, rng)
    dr7 = [schemas.sdss_objid(schemas.SDSS_DR7_RELEASE, *p) for p in parts]
    if schema == "gz2_hart16":
        return pd.DataFrame({schemas.HART16_ID: np.array(dr7, dtype=np.int64), "ra": ra, "dec": dec})
    dr8 = [schemas.sdss_objid(schemas.SDSS_DR8_RELEASE, *p) for p in parts]
    return pd.DataFrame({
        "specobjid": np.full(n, schemas.ZOONOSPEC_NO_SPECTRUM, dtype=np.int64),
        schemas.ZOONOSPEC_ID: np.array(dr8, dtype=np.int64),
        "dr7objid": np.array(dr7, dtype=np.int64),
        "ra": ra, "dec": dec,
    })


def _unique_sdss_parts(n: int, rng: np.random.Generator) -> list[tuple[int, int, int, int]]:
    """Distinct (run, camcol, field, obj) tuples drawn within SDSS's ranges."""
    seen: set[tuple[int, int, int, int]] = set()
    parts: list[tuple[int, int, int, int]] = []
    ranges = schemas.SDSS_ID_RANGES
    while len(parts) < n:
        draw = tuple(int(rng.integers(ranges[k][0], ranges[k][1] + 1)) for k in ("run", "camcol", "field", "obj"))
        if draw not in seen:
            seen.add(draw)
            parts.append(draw)
    return parts
