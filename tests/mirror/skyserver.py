"""A SkyServer stand-in: SQL search backed by SQLite, and JPEG cutouts (DESIGN sect. 2).

``x_results.aspx?cmd=<sql>&format=csv`` runs the query on in-memory tables (T-SQL's ``TOP n``
becomes SQLite's ``LIMIT n``) and answers like SkyServer: a ``#Table1`` line, then CSV; an SQL
error comes back as a table with an ``error_message`` column.  Results longer than ``max_rows``
are cut silently, as the real server does at its row limit.  ``getjpeg`` draws the galaxy at the
requested position.

Strict mode (``Mirror(max_query_chars=2048)``, issue 9): a query string above the limit gets
:data:`QUERY_TOO_LONG`, the page IIS sends when request filtering refuses it (SkyServer runs
ASP.NET on IIS, whose default ``maxQueryStringLength`` is 2,048).
"""
from __future__ import annotations

import re
import sqlite3
import threading
from typing import Callable

import pandas as pd

from pipeline.download.skyserver import CUTOUT_PATH, ERROR_COLUMN, TABLE_MARKER
from tests.mirror.replies import Reply

SQL_PATH = "/dr{release}/en/tools/search/x_results.aspx"
#: IIS's answer to a query string above the limit (HTTP 404, substatus 15), abridged.
QUERY_TOO_LONG = Reply(404, (
    b"<!DOCTYPE html><html><head><title>IIS 10.0 Detailed Error - 404.15 - Not Found</title></head>"
    b"<body><h3>HTTP Error 404.15 - Not Found</h3><h4>The request filtering module is configured to "
    b"deny a request where the query string is too long.</h4><p>Verify the configuration/system.webServer"
    b"/security/requestFiltering/requestLimits@maxQueryString setting in the applicationhost.config or "
    b"web.config file.</p></body></html>"), "text/html")
TOP = re.compile(r"^\s*SELECT\s+TOP\s+(\d+)\s+", re.IGNORECASE)


class SqlServer:
    """``tables`` (name -> DataFrame) queried with SkyServer's dialect and answer format."""

    def __init__(self, tables: dict[str, pd.DataFrame], max_rows: int = 500_000):
        self.max_rows = max_rows
        self.queries: list[str] = []
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._lock = threading.Lock()
        for name, table in tables.items():
            table.to_sql(name, self._db, index=False)

    def __call__(self, query: dict[str, str]) -> Reply:
        sql = query.get("cmd", "")
        with self._lock:
            self.queries.append(sql)
            top = TOP.match(sql)
            if top:
                sql = "SELECT " + sql[top.end():] + f" LIMIT {top.group(1)}"
            try:
                result = pd.read_sql_query(sql, self._db)
            except (sqlite3.Error, pd.errors.DatabaseError) as exc:
                result = pd.DataFrame({ERROR_COLUMN: [f"SQL error: {exc}"]})
        body = f"{TABLE_MARKER}\n" + result.head(self.max_rows).to_csv(index=False)
        return Reply(200, body.encode(), "text/plain")


def cutout_handler(draw: Callable[[str, str, int, int], bytes], width: str,
                   height: str) -> Callable[[dict[str, str]], Reply]:
    """A cutout service: ``draw(ra, dec, width, height)`` with the query's names for the sizes."""
    def handle(query: dict[str, str]) -> Reply:
        try:
            w, h = int(query[width]), int(query[height])
            ra, dec = query["ra"], query["dec"]
        except (KeyError, ValueError):
            return Reply(400, b"<html><body>bad request</body></html>", "text/html")
        return Reply(200, draw(ra, dec, w, h), "image/jpeg")

    return handle


def sql_path(release: int) -> str:
    return SQL_PATH.format(release=release)


def cutout_path(release: int) -> str:
    return CUTOUT_PATH.format(release=release)


def pawlikmorph_tables(rows: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """SkyServer's ``PawlikMorph`` (MaNGA DR15 targets, keyed by ``plateifu``, no objid) and the
    ``mangaDrpAll`` rows that place them, from ``rows`` (plateifu, objra, objdec, A, G, M20, sb0,
    reff, n, warningflag): the server's column names, with a few of their neighbours (``As``,
    ``S``, ``mag``; ``ifura``/``ifudec``, the IFU's centre, a little off the target's) so that a
    query reading the wrong column reads wrong values."""
    mangaid = [f"1-{100000 + i}" for i in range(len(rows))]
    morph = pd.DataFrame({"mangaID": mangaid, "plateifu": rows["plateifu"], "A": rows["A"], "As": 0.5, "S": 0.1,
                          "G": rows["G"], "M20": rows["M20"], "mag": 16.0, "sb0": rows["sb0"],
                          "reff": rows["reff"], "n": rows["n"], "warningflag": rows["warningflag"]})
    drp = pd.DataFrame({"plate": [int(p.split("-")[0]) for p in rows["plateifu"]],
                        "ifudsgn": [p.split("-")[1] for p in rows["plateifu"]], "plateifu": rows["plateifu"],
                        "mangaid": mangaid, "objra": rows["objra"], "objdec": rows["objdec"],
                        "ifura": rows["objra"] + 0.01, "ifudec": rows["objdec"] - 0.01})
    return {"PawlikMorph": morph, "mangaDrpAll": drp}
