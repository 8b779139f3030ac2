"""SDSS SkyServer: SQL through astroquery, and JPEG cutouts (DESIGN sect. 2).

SQL goes through ``astroquery.sdss.SDSSClass.query_sql_async`` (the response, not the parsed
table, so the body can be checked first) with ``cache=False`` and the base URL set by
``conf.set_temp('skyserver_baseurl', ...)``, so a mirror's URL is one param.  The CSV body starts
with a ``#Table1`` line; SkyServer reports SQL errors as a table with an ``error_message`` column
and server trouble as HTML pages, sometimes with status 200: those are errors, never data.
Queries are rate limited (SkyServer allows about 60 a minute) and retried like any request.
"""
from __future__ import annotations

import io
import re
from typing import Callable, Iterable, Iterator

import pandas as pd
import requests
from astroquery.sdss import SDSSClass, conf

from pipeline.download.errors import DownloadError, Retryable
from pipeline.download.http import USER_AGENT, check_status
from pipeline.download.ratelimit import RateLimiter, host_of
from pipeline.download.retry import with_retries
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
        self._sdss = SDSSClass()
        self._sdss._session.headers["User-Agent"] = f"{USER_AGENT} {self._sdss._session.headers['User-Agent']}"

    def query(self, sql: str, what: str) -> pd.DataFrame:
        """Run ``sql``; a failed attempt (5xx, 429, timeout, HTML page) is retried."""
        def attempt() -> pd.DataFrame:
            timeout = (self.http.connect_timeout_s, self.http.read_timeout_s)
            try:
                with conf.set_temp("skyserver_baseurl", self.base_url):
                    response = self._sdss.query_sql_async(sql, data_release=self.data_release,
                                                          cache=False, timeout=timeout)
            except requests.Timeout:
                raise Retryable("timed out") from None
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                raise Retryable(f"connection failed ({type(exc).__name__})") from None
            check_status(response)
            return parse_result(response.text, what)

        return with_retries(attempt, self.http, self.limiter, host_of(self.base_url), what)

    def query_pages(self, page_sql: Callable[[int | None], str], key: str, page_rows: int,
                    what: str) -> pd.DataFrame:
        """All rows of a keyset-paged query: ``page_sql(last_key)`` selects ``TOP page_rows`` rows
        with ``key > last_key`` (no condition for the first page) ordered by ``key``.

        No query asks for more than ``page_rows`` rows, so none meets the server's row limit.
        """
        pages: list[pd.DataFrame] = []
        last: int | None = None
        while True:
            page = self.query(page_sql(last), f"{what}, page {len(pages) + 1}")
            if len(page) > page_rows:
                raise DownloadError(what, f"the server returned {len(page)} rows for TOP {page_rows}")
            pages.append(page)
            if len(page) < page_rows:
                return pd.concat(pages, ignore_index=True)
            new_last = int(page[key].max())
            if last is not None and new_last <= last:
                raise DownloadError(what, f"paging by {key} does not advance (stuck at {last})")
            last = new_last


def cutout_url(base_url: str, data_release: int) -> str:
    """The getjpeg endpoint; its query takes ``ra, dec, scale, width, height``."""
    return base_url + CUTOUT_PATH.format(release=data_release)


def parse_result(text: str, what: str) -> pd.DataFrame:
    """The table of a SkyServer CSV response; HTML pages and SQL errors raise."""
    if looks_like_html(text):
        title = re.search(r"<title>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        shown = f": {title.group(1).strip()[:120]!r}" if title else ""
        raise Retryable(f"an HTML page instead of the query result{shown}")
    text = text.lstrip("\ufeff")
    first, _, body = text.partition("\n")
    if first.strip() != TABLE_MARKER:
        raise DownloadError(what, f"unexpected response: expected a {TABLE_MARKER!r} line, got {first[:80]!r}")
    table = pd.read_csv(io.StringIO(body)) if body.strip() else pd.DataFrame()
    if ERROR_COLUMN in table.columns:
        message = " ".join(str(v) for v in table[ERROR_COLUMN].dropna())
        raise DownloadError(what, f"SkyServer rejected the query: {message[:500]}")
    return table


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
