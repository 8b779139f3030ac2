"""SkyServer SQL through astroquery against the mirror: format checks, paging, retries."""
from __future__ import annotations

import pandas as pd
import pytest

from pipeline.download.errors import DownloadError
from pipeline.download.skyserver import SkyServer, id_chunks, parse_result
from tests.mirror.fixtures import http, mirror  # noqa: F401 - pytest fixtures
from tests.mirror.skyserver import SqlServer, sql_path

RELEASE = 17
ROWS = pd.DataFrame({"objid": [1237650000000000000 + i for i in range(23)], "p_el": [i / 23 for i in range(23)]})


@pytest.fixture
def sql(mirror) -> SqlServer:  # noqa: F811
    server = SqlServer({"zooNoSpec": ROWS})
    mirror.serve(sql_path(RELEASE), server)
    return server


def page(after: int | None) -> str:
    where = "" if after is None else f"WHERE objid > {after} "
    return f"SELECT TOP 5 objid, p_el FROM zooNoSpec {where}ORDER BY objid"


def test_a_paged_query_returns_every_row_exactly_once(mirror, http, sql):  # noqa: F811
    table = SkyServer(mirror.url, RELEASE, http).query_pages(page, "objid", 5, "test")
    pd.testing.assert_frame_equal(table, ROWS)
    assert len(sql.queries) == 5 and all("TOP 5" in q for q in sql.queries)
    assert mirror.requests()[0].query["format"] == "csv"


def test_an_html_page_with_status_200_is_retried_then_reported(mirror, http, sql):  # noqa: F811
    path = sql_path(RELEASE)
    mirror.inject(path, "html_200", "503_html")
    assert len(SkyServer(mirror.url, RELEASE, http).query(page(None), "test")) == 5
    mirror.inject(path, *["html_200"] * (http.retries + 1))
    with pytest.raises(DownloadError, match="an HTML page instead of the query result: 'SkyServer maintenance'"):
        SkyServer(mirror.url, RELEASE, http).query(page(None), "test")


@pytest.mark.parametrize("fault", ["500", "timeout", "reset", "truncated", "429"])
def test_transient_faults_are_retried(mirror, http, sql, fault):  # noqa: F811
    mirror.inject(sql_path(RELEASE), fault)
    assert len(SkyServer(mirror.url, RELEASE, http).query(page(None), "test")) == 5


def test_an_sql_error_is_reported_not_parsed(mirror, http, sql):  # noqa: F811
    with pytest.raises(DownloadError, match="SkyServer rejected the query: SQL error: .*no such column"):
        SkyServer(mirror.url, RELEASE, http).query("SELECT TOP 5 p_spiralclock FROM zooNoSpec", "test")
    assert len(mirror.requests()) == 1  # not retried: the query itself is wrong


def test_parse_result_needs_the_table_marker():
    assert parse_result("#Table1\nobjid,p_el\n1,0.5\n", "t").to_dict("list") == {"objid": [1], "p_el": [0.5]}
    with pytest.raises(DownloadError, match="expected a '#Table1' line"):
        parse_result("objid,p_el\n1,0.5\n", "t")


def test_id_lists_stay_within_the_length_limit():
    ids = [1237650000000000000 + i for i in range(100)]
    chunks = list(id_chunks(ids, 200))
    assert [i for c in chunks for i in c] == ids
    assert all(len(",".join(map(str, c))) <= 200 for c in chunks) and len(chunks) == 10
