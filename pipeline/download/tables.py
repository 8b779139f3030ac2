"""Remote CSV catalogues (``gz2_hart16.csv.gz``, ``gz_decals_volunteers_5.csv``): streamed to
disk, then copied whole to parquet (DESIGN sect. 2).

A catalogue is a faithful copy of the published table: every row and every column, in the
file's order, renamed only where an older release names a column differently.  Nothing in it
depends on the selection: the select stage applies Table 1 locally, so editing a threshold never
calls for a new download.

The raw file never sits in memory whole (Hart16 has 239,695 rows of a few hundred columns): it
is read in chunks twice, once to settle each column's type as one read of the whole file would
(a chunk of integers and a chunk with a gap make a float column), then to write the parquet
chunk by chunk; it is deleted afterwards.

Before that, the download must be whole (issue 8): a server that closes the connection early
without a Content-Length sends what looks like a complete, shorter file, and pandas fills a row
cut short with NaN without a word.  :func:`check_complete` reads the file once more: a gzip
stream must reach its trailer, the text must end with a newline and every row must have the
header's number of fields; a download that fails this is retried.
"""
from __future__ import annotations

import csv
import gzip
import io
import zlib
from collections import Counter
from pathlib import Path
from typing import Callable, Iterator, Mapping
from urllib.parse import urlsplit

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.download.errors import DownloadError
from pipeline.download.http import HttpClient, partial_name
from pipeline.download.settings import DownloadCfg
from pipeline.download.validate import BadContent, looks_like_html

GZIP_MAGIC = b"\x1f\x8b"
CHUNK_ROWS = 50_000
#: Column types of a copied table: pandas dtype (as read_csv takes it) -> parquet type.
ARROW_TYPES = {"bool": pa.bool_(), "int64": pa.int64(), "uint64": pa.uint64(), "float64": pa.float64(),
               "str": pa.string()}
_KIND_TYPES = {"b": "bool", "i": "int64", "u": "uint64", "f": "float64"}

#: What a corrupt gzip stream or a malformed CSV raises while it is read.
UNREADABLE = (OSError, EOFError, zlib.error, UnicodeDecodeError, ValueError)

Renames = Callable[[list[str]], dict[str, str]]


def file_name(url: str) -> str:
    """The last path segment of ``url`` (``.../gz2_hart16.csv.gz`` -> ``gz2_hart16.csv.gz``)."""
    return urlsplit(url).path.rsplit("/", 1)[-1] or "download"


def fetch_catalogue(download: DownloadCfg, out_path: Path, required: Mapping[str, str],
                    renames: Renames | None = None) -> pd.DataFrame:
    """Download the CSV(.gz) at ``download.url``, copy it whole to ``out_path`` (parquet) and
    return the copy.

    ``required`` maps the columns the source itself reads (id, position, radii) to the params key
    named when the table lacks one (a URL serving another table).  ``renames(header)`` maps old
    column names to current ones (a catalogue release with other answer names).
    """
    what = file_name(download.url)
    raw = partial_name(out_path.parent / what)
    try:
        HttpClient(download.http).download(download.url, raw, what=what, check=check_complete)
        copy_table(raw, out_path, required, renames, what)
    finally:
        raw.unlink(missing_ok=True)
    return pd.read_parquet(out_path)


def check_complete(path: Path) -> None:
    """Raise :class:`BadContent` unless the CSV(.gz) at ``path`` is whole: a gzip stream that
    reaches its trailer, text that ends with a newline, every row with the header's fields."""
    with open(path, "rb") as raw:
        compressed = raw.read(2) == GZIP_MAGIC
    last = ""

    def lines(text: Iterator[str]) -> Iterator[str]:
        nonlocal last
        for last in text:
            yield last

    number = 0
    try:
        with (gzip.open if compressed else open)(path, "rb") as binary, \
                io.TextIOWrapper(binary, encoding="utf-8-sig", newline="") as text:
            # strict: a quoted field still open at the end (a body cut inside it) is an error
            rows = csv.reader(lines(text), strict=True)
            header = next(rows, [])
            for number, row in enumerate(rows, 1):
                # An empty line is skipped by the reader (pandas too), not a row of no fields.
                if row and len(row) != len(header):
                    raise BadContent(f"row {number} has {len(row)} fields, the header {len(header)}: "
                                     "the file is cut short or malformed")
    except EOFError:
        raise BadContent("the gzip stream is cut short (the download ended early)") from None
    except (OSError, zlib.error) as exc:
        raise BadContent(f"does not decompress ({exc})") from None
    except UnicodeDecodeError as exc:
        raise BadContent(f"is not UTF-8 text ({exc})") from None
    except csv.Error as exc:
        raise BadContent(f"does not read as a CSV table (row {number + 1}: {exc})") from None
    if not last.endswith(("\n", "\r")):
        where = f"the last row (row {number})" if number else "the header"
        raise BadContent(f"{where} ends without a newline: the file is cut short")


def copy_table(path: Path, out_path: Path, required: Mapping[str, str], renames: Renames | None,
               what: str) -> None:
    """Copy the local CSV(.gz) at ``path`` to ``out_path`` (parquet), every row and column,
    ``CHUNK_ROWS`` rows at a time; written under a temporary name, then renamed."""
    with open(path, "rb") as raw:
        compression = "gzip" if raw.read(2) == GZIP_MAGIC else None
    header = _header(path, compression, what)
    rename = renames(header) if renames else {}
    columns = [rename.get(column, column) for column in header]
    twice = [column for column, n in Counter(columns).items() if n > 1]
    if twice:
        raise DownloadError(what, f"column {twice[0]!r} appears twice in the catalogue's header"
                                  f"{' (after renaming old answer names)' if rename else ''}")
    missing = [column for column in required if column not in columns]
    if missing:
        raise DownloadError(what, f"{required[missing[0]]}: column {missing[0]!r} is not in the catalogue "
                                  f"(it has {len(columns)} columns, e.g. {columns[:6]})")
    types = column_types(_chunks(path, compression, header, what), header, what)
    schema = pa.schema([(new, ARROW_TYPES[types[old]]) for old, new in zip(header, columns)])
    partial = partial_name(out_path)
    try:
        with pq.ParquetWriter(partial, schema) as writer:
            for chunk in _chunks(path, compression, header, what, types):
                writer.write_table(pa.Table.from_pandas(chunk.rename(columns=rename), schema=schema,
                                                        preserve_index=False))
        partial.replace(out_path)
    finally:
        partial.unlink(missing_ok=True)


def column_types(chunks: Iterator[pd.DataFrame], header: list[str], what: str) -> dict[str, str]:
    """The type of each column over all ``chunks``, as one read of the whole table would give it:
    one numeric kind stays; integers with floats (or a gap) are float; anything else is text."""
    kinds: dict[str, set[str]] = {column: set() for column in header}
    n_rows = 0
    for chunk in chunks:
        n_rows += len(chunk)
        for column, dtype in chunk.dtypes.items():
            kinds[column].add(dtype.kind if dtype.kind in _KIND_TYPES else "O")
    if n_rows == 0:
        raise DownloadError(what, "the table has a header but no rows")
    types = {}
    for column, found in kinds.items():
        if len(found) == 1 and "O" not in found:
            types[column] = _KIND_TYPES[found.pop()]
        elif "f" in found and found <= {"i", "u", "f"}:
            types[column] = "float64"
        else:
            types[column] = "str"
    return types


def _chunks(path: Path, compression: str | None, header: list[str], what: str,
            types: Mapping[str, str] | None = None) -> Iterator[pd.DataFrame]:
    """``CHUNK_ROWS`` rows at a time, columns named as ``header`` says (pandas would rename an
    empty name); with ``types``, each column read as that type (19-digit ids never as floats)."""
    dtype = None if types is None else {column: (str if t == "str" else t) for column, t in types.items()}
    try:
        with pd.read_csv(path, compression=compression, header=0, names=header, dtype=dtype,
                         chunksize=CHUNK_ROWS) as reader:
            yield from reader
    except EOFError:
        raise DownloadError(what, "the gzip stream is cut short (the download ended early)") from None
    except UNREADABLE as exc:
        raise DownloadError(what, f"does not read as a CSV table ({type(exc).__name__}: {exc})") from None


def _header(path: Path, compression: str | None, what: str) -> list[str]:
    opener = gzip.open if compression else open
    try:
        with opener(path, "rb") as raw:
            head = raw.read(64 << 10)
    except UNREADABLE as exc:
        raise DownloadError(what, f"does not decompress ({exc})") from None
    if looks_like_html(head):
        raise DownloadError(what, "an HTML page instead of the catalogue")
    first_line = head.split(b"\n", 1)[0].decode("utf-8-sig", "replace")
    return next(csv.reader(io.StringIO(first_line)))


def write_parquet(table: pd.DataFrame, path: Path) -> None:
    """Write ``table`` under a temporary name, then rename: a kill leaves no half-written file."""
    partial = partial_name(path)
    try:
        table.to_parquet(partial, index=False)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
