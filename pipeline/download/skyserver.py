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

Query length (issue 9): the SQL travels in the GET query string, and ASP.NET refuses query
strings above ``maxQueryStringLength`` (2,048 characters by default) with an error page.  The
limit is counted on the query string as sent, URL-encoded (``,`` becomes ``%2C``, a space ``+``):
a query above ``QueryLimit.chars`` is an error before any request, and :meth:`SkyServer.batches`
packs lists of conditions (ids, position boxes) to stay within it.

Ids: SkyServer's ``*objid`` columns are 64-bit (``specobjid`` is ``numeric(20)`` and can exceed
int64); :func:`parse_result` reads them as text, never through float, and :func:`as_int64`
converts one exactly or raises.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, TypeVar
from urllib.parse import urlsplit

import pandas as pd
import requests
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
#: Result columns holding SDSS ids (objid, specobjid, dr7objid, dr8objid, ...): read as text.
ID_COLUMN = re.compile(r"objid$", re.IGNORECASE)
T = TypeVar("T")


@dataclass(frozen=True)
class QueryLimit:
    """The longest URL-encoded query string to send, and the params key that sets it."""

    chars: int
    key: str


class SkyServer:
    """SQL queries and cutout URLs of one SkyServer (the real one or a mirror) and release."""

    def __init__(self, base_url: str, data_release: int, http: HttpCfg, limit: QueryLimit | None = None):
        self.base_url = base_url
        self.data_release = data_release
        self.http = http
        self.limit = limit
        self.limiter = RateLimiter(http.rate_per_s, http.burst)
        self.client = HttpClient(http, self.limiter)
        self._sdss = SDSSClass()
        with conf.set_temp("skyserver_baseurl", base_url):
            self.sql_url = self._sdss._get_query_url(data_release)

    def payload(self, sql: str) -> dict[str, str]:
        """The GET parameters astroquery builds for ``sql``."""
        return self._sdss.query_sql_async(sql, data_release=self.data_release, get_query_payload=True)

    def query_chars(self, sql: str) -> int:
        """Length of the query string sent for ``sql``, URL-encoded exactly as requests sends it."""
        prepared = requests.Request("GET", self.sql_url, params=self.payload(sql)).prepare()
        return len(urlsplit(prepared.url).query)

    def check_length(self, sql: str, what: str) -> None:
        """Raise :class:`DownloadError` (naming the params key) if ``sql`` is above the limit."""
        if self.limit is not None and (chars := self.query_chars(sql)) > self.limit.chars:
            raise DownloadError(what, f"the query string would be {chars} characters URL-encoded, above "
                                      f"{self.limit.key} = {self.limit.chars}; not sent")

    def query(self, sql: str, what: str) -> pd.DataFrame:
        """Run ``sql``; a failed attempt (5xx, 429, timeout, HTML page, a body cut short) is retried.

        A query above the length limit raises before any request."""
        self.check_length(sql, what)
        payload = self.payload(sql)

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
            new_last = max(int(v) for v in page[key])  # exact: ids are text (see parse_result)
            if last is not None and new_last <= last:
                raise DownloadError(what, f"paging by {key} does not advance (stuck at {last})")
            last = new_last

    def batches(self, items: Iterable[T], sql_of: Callable[[list[T]], str], what: str) -> Iterator[list[T]]:
        """``items`` in groups, in order, each as large as the length limit allows for ``sql_of(group)``.

        Each group is measured as sent (id lists and position boxes alike: what a condition costs
        once encoded is the encoder's business, not ours).  Without a limit, one group holds
        every item.
        """
        items = list(items)
        if self.limit is None:
            yield from [items] if items else []
            return
        chunk: list[T] = []
        for item in items:
            if chunk and self.query_chars(sql_of([*chunk, item])) > self.limit.chars:
                yield chunk
                chunk = []
            if not chunk and self.query_chars(sql_of([item])) > self.limit.chars:
                raise DownloadError(what, f"{self.limit.key} = {self.limit.chars} leaves no room for {item}")
            chunk.append(item)
        if chunk:
            yield chunk


def cutout_url(base_url: str, data_release: int) -> str:
    """The getjpeg endpoint; its query takes ``ra, dec, scale, width, height``."""
    return base_url + CUTOUT_PATH.format(release=data_release)


def parse_result(text: str, what: str) -> pd.DataFrame:
    """The table of a SkyServer CSV response; HTML pages, bodies cut short and SQL errors raise.

    ``*objid`` columns are text: 19- and 20-digit ids must never pass through float64 (whose
    integers are exact only to 2**53), and ``specobjid`` may exceed int64."""
    if looks_like_html(text):
        title = re.search(r"<title>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        shown = f": {title.group(1).strip()[:120]!r}" if title else ""
        raise Retryable(f"an HTML page instead of the query result{shown}")
    text = text.lstrip("\ufeff")
    first, _, body = text.partition("\n")
    if first.strip() != TABLE_MARKER:
        raise DownloadError(what, f"unexpected response: expected a {TABLE_MARKER!r} line, got {first[:80]!r}")
    check_complete(body)
    if not body.strip():
        return pd.DataFrame()
    header = next(csv.reader(io.StringIO(body)))
    table = pd.read_csv(io.StringIO(body), dtype={c: str for c in header if ID_COLUMN.search(c)})
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


def as_int64(values: pd.Series, what: str) -> pd.Series:
    """Text ids as int64, exactly; a value that is not an integer or does not fit raises."""
    try:
        return pd.Series([int(v) for v in values], index=values.index, dtype="int64", name=values.name)
    except (ValueError, OverflowError) as exc:
        raise DownloadError(what, f"column {values.name!r} holds an id that is not a 64-bit integer ({exc})") from exc
