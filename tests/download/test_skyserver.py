"""SkyServer SQL (built by astroquery, sent by our client) against the mirror: format checks,
paging, retries, pages cut short (issue 8)."""
from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from pipeline.download.errors import DownloadError
from pipeline.download.errors import Retryable
from pipeline.download.skyserver import SkyServer, check_complete, id_chunks, parse_result
from tests.mirror.faults import TRICKLE_INTERVAL_S
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
    # 23 rows: four full pages, a short one, and the empty page that alone proves the end
    assert len(sql.queries) == 6 and all("TOP 5" in q for q in sql.queries)
    first = mirror.requests()[0].query
    assert first["cmd"].strip() == page(None) and first["format"] == "csv" and first["searchtool"] == "SQL"


@pytest.mark.parametrize("fault", ["truncated_unannounced", "truncated_rows", "trickle"])
def test_a_page_cut_short_never_ends_the_table_early(mirror, http, sql, fault):  # noqa: F811
    """A connection dropped in a body without Content-Length (mid-row or at a row's end) or a
    trickled page: the table still comes back whole, each row once."""
    mirror.inject(sql_path(RELEASE), fault)  # the first page
    http = dataclasses.replace(http, read_timeout_s=2 * TRICKLE_INTERVAL_S)
    table = SkyServer(mirror.url, RELEASE, http).query_pages(page, "objid", 5, "test")
    pd.testing.assert_frame_equal(table, ROWS)


def test_a_page_above_the_size_cap_fails_at_once(mirror, http, sql):  # noqa: F811
    mirror.inject(sql_path(RELEASE), "oversize_unannounced")
    with pytest.raises(DownloadError, match="test, page 1: larger than max_bytes = 100000"):
        server = SkyServer(mirror.url, RELEASE, dataclasses.replace(http, max_bytes=100_000))
        server.query_pages(page, "objid", 5, "test")
    assert len(mirror.requests()) == 1


@pytest.mark.parametrize("body, reason", [
    ("objid,p_el\n1,0.5\n2,0.2", "its last line has no newline"),
    ("objid,p_el\n1,0.5\n2,\n", None),  # an empty last field is a value (NULL), not a cut
    ("objid,p_el\n1,0.5\n2\n", "row 2 has 1 of 2 fields"),
])
def test_a_page_is_whole_only_with_a_final_newline_and_full_rows(body, reason):
    if reason is None:
        check_complete(body)
    else:
        with pytest.raises(Retryable, match=reason):
            check_complete(body)


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
