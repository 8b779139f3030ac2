"""The measures of paper Table 4 from SkyServer's ``PawlikMorph`` table, as the paper took them.

``PawlikMorph`` (DR15-DR17: "Morphological parameters for all galaxies in MaNGA DR15", Pawlik et
al. 2016's code on SDSS DR7 r-band frames) holds ``A``, ``G``, ``M20``, ``sb0`` (Sersic central
surface brightness, counts), ``reff`` (Sersic effective radius, pixels of 0.396") and ``n`` per
MaNGA target, with a ``warningflag`` (0: no warning).  It has no SDSS objid: its key is MaNGA's
``plateifu``, and ``mangaDrpAll`` gives each target's position (``objra``, ``objdec``).  So the
whole table (about 4,600 rows, one query: no SkyServer row limit near) is fetched joined to those
positions, and each test galaxy takes the nearest target within
``morphology.pawlikmorph.match_arcsec`` of its own ra/dec.  A galaxy with no target that close
(most SDSS galaxies are not MaNGA targets) or with a non-finite measure is a row with NaN
measures and the reason.

The query goes through the project's SkyServer client (pipeline/download/skyserver.py: astroquery
builds it, our HTTP client sends it with the survey's limits and retries; an SQL error page is an
error, an HTML page a retry), at the survey's ``source.skyserver`` and ``source.data_release``
with ``source.query.http``, as the sdss source's catalogue query.  Whether the table came back
whole is checked against a ``COUNT(*)`` asked first: a page cut at a line's end parses as a
shorter table (see skyserver.py).
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from astropy import units as u
from astropy.coordinates import SkyCoord

from pipeline.config import ConfigError, parse
from pipeline.download.errors import DownloadError
from pipeline.download.skyserver import MAX_ROWS, SkyServer
from pipeline.morphology import COLUMNS, MEASURES
from pipeline.params import PawlikMorphMatch
from pipeline.surveys.sdss import SdssSourceCfg

log = logging.getLogger(__name__)

TABLE, TARGETS = "PawlikMorph", "mangaDrpAll"
#: PawlikMorph's column for each measure of Table 4.
SOURCE_COLUMNS = {"A": "A", "G": "G", "M20": "M20", "SB0": "sb0", "Reff": "reff", "n": "n"}
FLAG = "warningflag"
_FROM = f"FROM {TABLE} AS p JOIN {TARGETS} AS d ON d.plateifu = p.plateifu"
COUNT_SQL = f"SELECT COUNT(*) AS n_rows {_FROM}"


def table_sql(rows: int) -> str:
    """Every PawlikMorph row with its target's position, measures renamed to Table 4's names."""
    measures = ", ".join(f"p.{column} AS {name}" for name, column in SOURCE_COLUMNS.items())
    return (f"SELECT TOP {int(rows)} p.plateifu, d.objra, d.objdec, {measures}, p.{FLAG} "
            f"{_FROM} ORDER BY p.plateifu")


def server_for(name: str, source: dict) -> SkyServer:
    """The SkyServer of survey ``name``'s sdss source block; any other source is a ConfigError."""
    if source.get("kind") != "sdss":
        raise ConfigError(f"survey.{name}.morphology.source: pawlikmorph needs an sdss source (SDSS "
                          f"objects on SkyServer), but survey.{name}.source.kind is {source.get('kind')!r}")
    cfg = parse(SdssSourceCfg, source, f"survey.{name}.source")
    return SkyServer(cfg.skyserver, cfg.data_release, cfg.query.http)


def fetch_table(server: SkyServer, what: str) -> pd.DataFrame:
    """The joined table, whole: its row count must be the ``COUNT(*)`` the server gave first
    (a shorter one is asked again, as many times as the survey's http retries allow)."""
    expected = int(server.query(COUNT_SQL, f"{what} (row count)")["n_rows"].iloc[0])
    if expected > MAX_ROWS:
        raise DownloadError(what, f"{expected} rows, above SkyServer's {MAX_ROWS}-row limit for one query")
    for attempt in range(server.http.retries + 1):
        table = server.query(table_sql(MAX_ROWS), what)
        if len(table) == expected:
            return table
        log.warning("%s: %d rows of %d came back (attempt %d); asking again", what, len(table), expected,
                    attempt + 1)
    raise DownloadError(what, f"{len(table)} rows of the {expected} counted came back, "
                              f"{server.http.retries + 1} times")


def match(galaxies: pd.DataFrame, table: pd.DataFrame, cfg: PawlikMorphMatch) -> pd.DataFrame:
    """One row of :data:`pipeline.morphology.COLUMNS` per galaxy (``id``, ``ra``, ``dec``), in order:
    the measures of the nearest PawlikMorph target within ``cfg.match_arcsec``, or NaN and why.

    ``flag`` is PawlikMorph's ``warningflag``; ``flag_sersic`` is empty (PawlikMorph has none)."""
    rows = []
    if len(table):
        targets = SkyCoord(table["objra"].to_numpy(float) * u.deg, table["objdec"].to_numpy(float) * u.deg)
        coords = SkyCoord(galaxies["ra"].to_numpy(float) * u.deg, galaxies["dec"].to_numpy(float) * u.deg)
        nearest, separation, _ = coords.match_to_catalog_sky(targets)
        arcsec = separation.to_value(u.arcsec)
    else:
        nearest, arcsec = np.zeros(len(galaxies), int), np.full(len(galaxies), np.inf)
    for gid, i, sep in zip(galaxies["id"].astype(str), nearest, arcsec):
        row = {"id": gid, **dict.fromkeys(MEASURES, np.nan), "flag": np.nan, "flag_sersic": np.nan, "error": ""}
        if sep > cfg.match_arcsec:
            row["error"] = f"not in {TABLE}: no MaNGA target within {cfg.match_arcsec:g} arcsec"
        else:
            target = table.iloc[int(i)]
            values = {m: pd.to_numeric(target[m], errors="coerce") for m in MEASURES}
            row["flag"] = pd.to_numeric(target[FLAG], errors="coerce")
            missing = [m for m, v in values.items() if not np.isfinite(v)]
            if missing:
                row["error"] = f"{TABLE} row {target['plateifu']} has no {', '.join(missing)}"
            else:
                row.update({m: float(v) for m, v in values.items()})
        rows.append(row)
    return pd.DataFrame(rows, columns=list(COLUMNS))


def measures(name: str, source: dict, galaxies: pd.DataFrame, cfg: PawlikMorphMatch) -> pd.DataFrame:
    """The PawlikMorph measures of ``galaxies`` (``id``, ``ra``, ``dec``) of survey ``name``."""
    table = fetch_table(server_for(name, source), f"{name} {TABLE} x {TARGETS}")
    return match(galaxies, table, cfg)
