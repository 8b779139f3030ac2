"""Petrosian radii of GZ2 galaxies, for cutouts at the scale GZ2 used (0.02 x petroR90_r "/px).

Hart16 carries no sizes.  ``petroR90_r`` comes from SkyServer DR17: ``PhotoObjDR7`` matches each
DR7 objid (Hart16's ``dr7objid``) to its DR8+ photometric object, ``PhotoObjAll`` holds the
radius.  GZ2 measured it on DR7 imaging; the DR8+ reprocessing of the same frames differs little.
Ids go in ``IN (...)`` lists keeping each query within ``max_sql_chars`` (SkyServer takes SQL in the URL),
and the radii are cached next to the images so a rerun asks only for what it lacks.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.download.skyserver import SkyServer, id_chunks
from pipeline.download.tables import write_parquet

PETRO_R90 = "petroR90_r"
DR7_ID = "dr7objid"


def petro_sql(dr7_ids: list[int]) -> str:
    ids = ",".join(str(int(i)) for i in dr7_ids)
    return (f"SELECT m.{DR7_ID}, p.{PETRO_R90} FROM PhotoObjDR7 AS m "
            f"JOIN PhotoObjAll AS p ON p.objid = m.dr8objid WHERE m.{DR7_ID} IN ({ids})")


def petro_r90(server: SkyServer, dr7_ids: list[int], cache: Path, max_sql_chars: int) -> dict[int, float]:
    """``petroR90_r`` (arcsec) of each DR7 objid SkyServer knows; unknown ids are left out."""
    # Explicit dtypes: 19-digit objids must never pass through float64 (2**53 < 10**18).
    known = (pd.read_parquet(cache) if cache.exists()
             else pd.DataFrame({DR7_ID: pd.Series(dtype="int64"), PETRO_R90: pd.Series(dtype="float64")}))
    todo = sorted(set(dr7_ids) - set(known[DR7_ID]))
    chunks = list(id_chunks(todo, max_sql_chars - len(petro_sql([]))))
    for n, chunk in enumerate(chunks, 1):
        rows = server.query(petro_sql(chunk), f"{PETRO_R90} of GZ2 galaxies, query {n} of {len(chunks)}")
        if len(rows):
            known = pd.concat([known, rows[[DR7_ID, PETRO_R90]].astype(known.dtypes.to_dict())],
                              ignore_index=True)
            write_parquet(known, cache)
    return dict(zip(known[DR7_ID], known[PETRO_R90]))
