"""The PawlikMorph measures (paper Sect. 4.5.2) through the project's SkyServer client, against the
loopback mirror's PawlikMorph and mangaDrpAll tables: position match, missing galaxies, an SQL
error page, a table cut short."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.config import ConfigError
from pipeline.download.errors import DownloadError
from pipeline.download.settings import HttpCfg
from pipeline.download.skyserver import MAX_ROWS, SkyServer
from pipeline.morphology import COLUMNS, MEASURES
from pipeline.params import PawlikMorphMatch
from pipeline.pawlikmorph import measures, table_sql
from tests.mirror.fixtures import mirror  # noqa: F401 - pytest fixture
from tests.mirror.skyserver import SqlServer, pawlikmorph_tables, sql_path
from tests.mirror.surveys import fast_http

RELEASE = 17
ARCSEC = 1 / 3600
#: Three MaNGA targets; the one of 8082-1902 has no Sersic fit (NULL sb0, as a failed fit would be).
TARGETS = pd.DataFrame({
    "plateifu": ["7443-12701", "8077-6104", "8082-1902"],
    "objra": [150.0, 151.0, 152.0], "objdec": [2.0, 2.5, -1.0],
    "A": [0.08, 0.05, 0.11], "G": [0.51, 0.63, 0.60], "M20": [-1.5, -2.0, -1.8],
    "sb0": [14.9, 29.5, np.nan], "reff": [38.7, 7.5, 20.0], "n": [1.98, 2.15, 3.0], "warningflag": [0, 1, 0],
})
#: Test galaxies (SDSS objids): two on targets (0.5" off), one 5" from the nearest, one on the
#: target without sb0.
GALAXIES = pd.DataFrame({
    "id": ["1237650000000000001", "1237650000000000002", "1237650000000000003", "1237650000000000004"],
    "ra": [150.0 + 0.5 * ARCSEC, 151.0, 150.0, 152.0],
    "dec": [2.0, 2.5 - 0.5 * ARCSEC, 2.0 + 5 * ARCSEC, -1.0],
})
MATCH = PawlikMorphMatch(match_arcsec=2.0)
HTTP = HttpCfg(**fast_http())


def source(url: str, **http) -> dict:
    """``survey.<name>.source`` of an sdss survey on the mirror."""
    fetch = {"concurrency": 1, "max_failed_fraction": 0.0, "max_trailing_bytes": 0, "http": fast_http()}
    colour = {"bands": ["i", "r", "g"], "band_weights": [1.0, 1.1, 1.6], "asinh_q": 8.0, "asinh_stretch_sb": 20.75}
    return {"kind": "sdss", "colour": colour, "skyserver": url, "data_release": RELEASE,
            "query": {"page_rows": 10, "http": fast_http(**http)}, "images": {"scale_arcsec": 0.2, "fetch": fetch}}


@pytest.fixture
def sql(mirror) -> SqlServer:  # noqa: F811
    server = SqlServer(pawlikmorph_tables(TARGETS))
    mirror.serve(sql_path(RELEASE), server)
    return server


def test_galaxies_take_the_measures_of_the_target_at_their_position(mirror, sql):  # noqa: F811
    table = measures("sdss", source(mirror.url), GALAXIES, MATCH)
    assert list(table.columns) == list(COLUMNS) and table["id"].tolist() == GALAXIES["id"].tolist()
    first, second, far, no_fit = (row for _, row in table.iterrows())
    expected = {"A": 0.08, "G": 0.51, "M20": -1.5, "SB0": 14.9, "Reff": 38.7, "n": 1.98}
    assert {m: first[m] for m in MEASURES} == pytest.approx(expected)
    assert first["error"] == "" and first["flag"] == 0
    assert second["SB0"] == pytest.approx(29.5) and second["flag"] == 1  # warningflag kept
    assert far["error"] == "not in PawlikMorph: no MaNGA target within 2 arcsec"
    assert no_fit["error"] == "PawlikMorph row 8082-1902 has no SB0"
    for row in (far, no_fit):
        assert np.isnan(row[list(MEASURES)].to_numpy(float)).all()
    # the row count first, then the table: both through astroquery's payload, as CSV
    assert [q.split()[1] for q in sql.queries] == ["COUNT(*)", "TOP"]
    assert all(r.query["format"] == "csv" for r in mirror.requests())


def test_a_wider_match_radius_takes_the_farther_galaxy(mirror, sql):  # noqa: F811
    table = measures("sdss", source(mirror.url), GALAXIES, PawlikMorphMatch(match_arcsec=6.0))
    assert table.loc[2, "error"] == "" and table.loc[2, "A"] == pytest.approx(0.08)


def test_an_sql_error_page_is_reported_not_retried(mirror):  # noqa: F811
    """A server whose PawlikMorph lacks a column the query names answers with an error table."""
    tables = pawlikmorph_tables(TARGETS)
    tables["PawlikMorph"] = tables["PawlikMorph"].drop(columns="warningflag")
    mirror.serve(sql_path(RELEASE), SqlServer(tables))
    with pytest.raises(DownloadError, match=r"^sdss PawlikMorph x mangaDrpAll: SkyServer rejected the query: "
                                            r"SQL error: .*no such column: p.warningflag"):
        measures("sdss", source(mirror.url), GALAXIES, MATCH)
    assert len(mirror.requests()) == 2  # the count, then the table once: a wrong query is not retried


def test_an_html_page_is_retried(mirror, sql):  # noqa: F811
    mirror.inject(sql_path(RELEASE), "html_200", "503_html")
    assert measures("sdss", source(mirror.url), GALAXIES, MATCH)["error"].eq("").sum() == 2


def test_a_table_cut_at_a_line_end_is_asked_again(mirror, sql):  # noqa: F811
    """A close-delimited body cut after a whole row parses as a shorter table; the count says so."""
    cmd = SkyServer(mirror.url, RELEASE, HTTP).payload(table_sql(MAX_ROWS))["cmd"]
    mirror.inject(sql_path(RELEASE), "truncated_rows", match={"cmd": cmd})
    table = measures("sdss", source(mirror.url), GALAXIES, MATCH)
    assert table["error"].eq("").sum() == 2
    assert sum(q.split()[1] == "TOP" for q in sql.queries) == 2


def test_a_table_always_cut_short_is_an_error(mirror, sql):  # noqa: F811
    cmd = SkyServer(mirror.url, RELEASE, HTTP).payload(table_sql(MAX_ROWS))["cmd"]
    mirror.inject(sql_path(RELEASE), *["truncated_rows"] * 2, match={"cmd": cmd})
    with pytest.raises(DownloadError, match=r": [012] rows of the 3 counted came back, 2 times$"):
        measures("sdss", source(mirror.url, retries=1), GALAXIES, MATCH)


def test_pawlikmorph_needs_an_sdss_source():
    with pytest.raises(ConfigError, match=r"^survey.sim_sdss.morphology.source: pawlikmorph needs an sdss "
                                          r"source .* survey.sim_sdss.source.kind is 'sim'"):
        measures("sim_sdss", {"kind": "sim"}, GALAXIES, MATCH)
