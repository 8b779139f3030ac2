"""SDSS SkyServer: SQL through our HTTP client, and JPEG cutouts (DESIGN sect. 2).

astroquery builds each SQL request (``SDSSClass.query_sql_async(..., get_query_payload=True)``
for the query string, ``_get_query_url`` for the release's endpoint, under
``conf.set_temp('skyserver_baseurl', ...)`` so a mirror's URL is one param); ``HttpClient``
sends it, so the deadline, the size cap, the rate limit (SkyServer allows about 60 queries a
minute) and the retries apply as to any request.  The CSV body starts with a ``#Table1`` line;
SkyServer reports SQL errors as a table with an ``error_message`` column and server trouble as
HTML pages, sometimes with status 200: those are errors, never data.

A body is taken only when it is visibly whole (issue 8): it ends with a newline and every row
has the header's number of fields, else the page was cut short (a connection dropped in a body
without Content-Length looks complete to HTTP) and is asked again.  Paging ends only on an
empty page: a page shorter than asked for may still be the cut of a row limit or of a dropped
connection at a line's end, and the next page (keys above the last one received) fetches what
it lacked.
"""
from __future__ import annotations

import csv
import io
import re
from typing import Callable, Iterable, Iterator

import pandas as pd
from astroquery.sdss import SDSSClass, conf

from pipeline.download.errors import DownloadError, Retryable
from pipeline.download.http import HttpClient
from pipeline.download.ratelimit import RateLimiter
from pipeline.download.settings import HttpCfg
from pipeline.download.validate import looks_like_html

TABLE_MARKER = "#Table1"
ERROR_COLUMN = "error_message"
#: SkyServer's SQL search returns at most this many rows per query (larger results need CasJobs).
MAX_ROWS = 500_000
CUTOUT_PATH = "/dr{release}/SkyServerWS/ImgCutout/getjpeg"


class SkyServer:
    """SQL queries and cutout URLs of one SkyServer (the real one or a mirror) and release."""

    def __init__(self, base_url: str, data_release: int, http: HttpCfg):
        self.base_url = base_url
        self.data_release = data_release
        self.http = http
        self.limiter = RateLimiter(http.rate_per_s, http.burst)
        self.client = HttpClient(http, self.limiter)
        self._sdss = SDSSClass()
        with conf.set_temp("skyserver_baseurl", base_url):
            self.sql_url = self._sdss._get_query_url(data_release)

    def query(self, sql: str, what: str) -> pd.DataFrame:
        """Run ``sql``; a failed attempt (5xx, 429, timeout, HTML page, a body cut short) is retried."""
        payload = self._sdss.query_sql_async(sql, data_release=self.data_release, get_query_payload=True)

        def attempt() -> pd.DataFrame:
            response = self.client.fetch_once(self.sql_url, params=payload, what=what)
            return parse_result(response.content.decode("utf-8", "replace"), what)

        return self.client.retrying(self.sql_url, attempt, what)

    def query_pages(self, page_sql: Callable[[int | None], str], key: str, page_rows: int,
                    what: str) -> pd.DataFrame:
        """All rows of a keyset-paged query: ``page_sql(last_key)`` selects ``TOP page_rows`` rows
        with ``key > last_key`` (no condition for the first page) ordered by ``key``.

        No query asks for more than ``page_rows`` rows, so none meets the server's row limit.
        The last page is the first empty one (see the module's docstring).
        """
        pages: list[pd.DataFrame] = []
        last: int | None = None
        while True:
            page = self.query(page_sql(last), f"{what}, page {len(pages) + 1}")
            if len(page) > page_rows:
                raise DownloadError(what, f"the server returned {len(page)} rows for TOP {page_rows}")
            if page.empty:
                return pd.concat(pages, ignore_index=True) if pages else page
            pages.append(page)
            new_last = int(page[key].max())
            if last is not None and new_last <= last:
                raise DownloadError(what, f"paging by {key} does not advance (stuck at {last})")
            last = new_last


def cutout_url(base_url: str, data_release: int) -> str:
    """The getjpeg endpoint; its query takes ``ra, dec, scale, width, height``."""
    return base_url + CUTOUT_PATH.format(release=data_release)


def parse_result(text: str, what: str) -> pd.DataFrame:
    """The table of a SkyServer CSV response; HTML pages, bodies cut short and SQL errors raise."""
    if looks_like_html(text):
        title = re.search(r"<title>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        shown = f": {title.group(1).strip()[:120]!r}" if title else ""
        raise Retryable(f"an HTML page instead of the query result{shown}")
    text = text.lstrip("\ufeff")
    first, _, body = text.partition("\n")
    if first.strip() != TABLE_MARKER:
        raise DownloadError(what, f"unexpected response: expected a {TABLE_MARKER!r} line, got {first[:80]!r}")
    check_complete(body)
    table = pd.read_csv(io.StringIO(body)) if body.strip() else pd.DataFrame()
    if ERROR_COLUMN in table.columns:
        message = " ".join(str(v) for v in table[ERROR_COLUMN].dropna())
        raise DownloadError(what, f"SkyServer rejected the query: {message[:500]}")
    return table


def check_complete(body: str) -> None:
    """Raise :class:`Retryable` unless the CSV ``body`` (header and rows) ends with a newline and
    every row has as many fields as the header: otherwise the page was cut short."""
    if not body.strip():
        return
    if not body.endswith("\n"):
        raise Retryable("page cut short (its last line has no newline)")
    rows = csv.reader(io.StringIO(body))
    width = len(next(rows))
    for number, row in enumerate(rows, start=1):
        if row and len(row) != width:
            raise Retryable(f"page cut short (row {number} has {len(row)} of {width} fields)")


def id_chunks(ids: Iterable[int], max_chars: int) -> Iterator[list[int]]:
    """Ids grouped so that each group written as ``1,2,3`` has at most ``max_chars`` characters.

    SkyServer takes SQL in the GET query string; very long URLs are refused (DESIGN sect. 2).
    """
    chunk: list[int] = []
    length = 0
    for value in ids:
        cost = len(str(value)) + (1 if chunk else 0)
        if chunk and length + cost > max_chars:
            yield chunk
            chunk, length = [], 0
            cost = len(str(value))
        chunk.append(value)
        length += cost
    if chunk:
        yield chunk
