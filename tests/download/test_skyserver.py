"""SkyServer SQL (built by astroquery, sent by our client) against the mirror: format checks,
paging, retries, pages cut short (issue 8)."""
from __future__ import annotations

import dataclasses
import re
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import pytest

from pipeline.download.errors import DownloadError
from pipeline.download.errors import Retryable
from pipeline.download.skyserver import QueryLimit, SkyServer, as_int64, check_complete, parse_result
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
    pd.testing.assert_frame_equal(table.assign(objid=as_int64(table["objid"], "test")), ROWS)
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
    pd.testing.assert_frame_equal(table.assign(objid=as_int64(table["objid"], "test")), ROWS)


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
    assert parse_result("#Table1\nobjid,p_el\n1,0.5\n", "t").to_dict("list") == {"objid": ["1"], "p_el": [0.5]}
    with pytest.raises(DownloadError, match="expected a '#Table1' line"):
        parse_result("objid,p_el\n1,0.5\n", "t")


def in_list(ids: list[int]) -> str:
    return f"SELECT m.dr7objid, m.petroR90_r FROM PhotoObjDR7 AS m WHERE m.dr7objid IN ({','.join(map(str, ids))})"


def test_generated_id_queries_stay_within_the_encoded_limit_and_ask_each_id_once(mirror, http):  # noqa: F811
    """Many id lists of 19-digit ids, of random lengths: every query string the strict server
    receives is within the limit (it refuses longer ones), and every id is asked exactly once."""
    rng = np.random.default_rng(9)
    strict = 2048
    mirror.max_query_chars = strict
    photo = pd.DataFrame({"dr7objid": [], "petroR90_r": []})
    sql = SqlServer({"PhotoObjDR7": photo.assign(dr7objid=photo["dr7objid"].astype("int64"))})
    mirror.serve(sql_path(RELEASE), sql)
    server = SkyServer(mirror.url, RELEASE, http, QueryLimit(strict, "test.max_query_chars"))
    for _ in range(20):
        ids = [int(i) for i in rng.integers(10 ** 18, 2 ** 63 - 1, int(rng.integers(1, 700)), dtype=np.int64)]
        sql.queries.clear()
        for batch in server.batches(ids, in_list, "test"):
            server.query(in_list(batch), "test")
        asked = [int(i) for q in sql.queries for i in re.search(r"IN \((.*)\)", q).group(1).split(",")]
        assert asked == ids
    sent = [len(urlencode(r.query)) for r in mirror.requests()]  # as the client encoded them
    assert max(sent) <= strict and max(sent) > strict - 23  # batches are filled up to the limit


def test_a_query_above_the_limit_is_an_error_before_sending(mirror, http, sql):  # noqa: F811
    server = SkyServer(mirror.url, RELEASE, http, QueryLimit(300, "survey.x.max_query_chars"))
    with pytest.raises(DownloadError, match=r"^test: the query string would be \d+ characters URL-encoded, "
                                            r"above survey.x.max_query_chars = 300; not sent$"):
        server.query(in_list([1237650000000000000] * 12), "test")
    assert mirror.requests() == []


def test_ids_are_read_exactly_even_above_int64():
    big = 2 ** 63 + 7
    table = parse_result(f"#Table1\nobjid,specobjid,ra\n1237650000000000001,{big},1.5\n", "t")
    assert table["specobjid"].tolist() == [str(big)]
    assert as_int64(table["objid"], "t").tolist() == [1237650000000000001]
    with pytest.raises(DownloadError, match="column 'specobjid' holds an id that is not a 64-bit integer"):
        as_int64(table["specobjid"], "t")
