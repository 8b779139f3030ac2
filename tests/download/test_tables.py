"""Catalogue tables copied whole to parquet, in chunks, with the types a one-shot read gives."""
from __future__ import annotations

import gzip

import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline.download import tables
from pipeline.download.errors import DownloadError
from pipeline.download.tables import check_complete, copy_table
from pipeline.download.validate import BadContent
from pipeline.surveys import schemas

N = 20
#: Columns whose type only the whole table shows: a gap or a fraction in a later chunk, text
#: after empty chunks, 19-digit ids (never through float64), an empty column, flags.
MESSY = pd.DataFrame({
    "dr7objid": [587722981741363294 + i for i in range(N)],
    "gz2_class": [None] * 8 + [f"Sc{i}" for i in range(N - 8)],
    "t01_count": [i if i != 13 else None for i in range(N)],
    "t01_weight": [float(i) if i != 17 else 2.5 for i in range(N)],
    "t03_debiased": [None] * N,
    "ok": [i % 3 == 0 for i in range(N)],
    "code": [str(i) if i < 15 else "x" for i in range(N)],
})


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr(tables, "CHUNK_ROWS", 6)


@pytest.mark.parametrize("compress", [False, True])
def test_a_table_is_copied_whole_in_chunks_as_one_read_would_type_it(tmp_path, compress):
    text = MESSY.to_csv(index=False).encode()
    raw = tmp_path / ("table.csv.gz" if compress else "table.csv")  # the copy sniffs, not the name
    raw.write_bytes(gzip.compress(text) if compress else text)
    copy_table(raw, tmp_path / "table.parquet", {"dr7objid": "x.catalogue"}, None, "table.csv")
    copied = pd.read_parquet(tmp_path / "table.parquet")
    pd.testing.assert_frame_equal(copied, pd.read_csv(raw), check_exact=True)
    assert copied["dr7objid"].dtype == "int64" and copied["t01_count"].dtype == "float64"
    assert copied["code"].tolist()[:2] == ["0", "1"]  # text, as one read makes a column with an "x"
    assert pq.ParquetFile(tmp_path / "table.parquet").metadata.num_row_groups == 4  # 6 rows at a time


def test_old_answer_names_are_renamed_and_nothing_else(tmp_path):
    old = pd.DataFrame({"iauname": ["J1", "J2"], "how-rounded_completely": [3, 4],
                        "how-rounded_completely_fraction": [0.5, 0.6], "how-rounded_cigar-shaped": [1, 0]})
    old.to_csv(tmp_path / "dr12.csv", index=False)
    copy_table(tmp_path / "dr12.csv", tmp_path / "out.parquet", {}, schemas.decals_dr12_renames, "dr12.csv")
    assert list(pd.read_parquet(tmp_path / "out.parquet").columns) == [
        "iauname", "how-rounded_round", "how-rounded_round_fraction", "how-rounded_cigar-shaped"]


TRUNCATED_GZIP = gzip.compress(b"iauname,petro_th50\n" + b"J1,1.5\n" * 40_000)[:-100]  # the header reads


@pytest.mark.parametrize("body, message", [
    (b"<!DOCTYPE html><html><title>Not found</title></html>", "an HTML page instead of the catalogue"),
    (b"iauname,ra,dec\nJ1,1.0,2.0\n", r"survey.x.source.catalogue: column 'petro_th50' is not in the catalogue"),
    (b"iauname,ra,ra,petro_th50\nJ1,1.0,2.0,3\n", "column 'ra' appears twice"),
    (b"iauname,how-rounded_completely,how-rounded_round,petro_th50\nJ1,1,2,3\n",
     r"'how-rounded_round' appears twice .*renaming"),
    (b"iauname,petro_th50\n", "a header but no rows"),
    (b"\x1f\x8b\x08\x00 not really gzip", "does not decompress"),
    (TRUNCATED_GZIP, r"^in.csv: the gzip stream is cut short \(the download ended early\)$"),
])
def test_a_table_that_is_not_the_catalogue_is_reported_and_nothing_written(tmp_path, body, message):
    (tmp_path / "in.csv").write_bytes(body)
    required = {"iauname": "survey.x.source.catalogue", "petro_th50": "survey.x.source.catalogue"}
    with pytest.raises(DownloadError, match=message):
        copy_table(tmp_path / "in.csv", tmp_path / "out.parquet", required, schemas.decals_dr12_renames, "in.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


HEADER = b"iauname,ra,dec,petro_th50,note\n"
ROWS = b"".join(b"J%03d,1.5,2.5,3.0,\"a, quoted\nfield\"\n" % i for i in range(30))


@pytest.mark.parametrize("body, message", [
    (HEADER + ROWS[:-30], r"^row 30 has 2 fields, the header 5: the file is cut short or malformed$"),  # cut mid-row
    # cut in the last field: every row has its fields
    (HEADER + ROWS[:-1], r"^the last row \(row 30\) ends without a newline: the file is cut short$"),
    (HEADER + ROWS.replace(b"J007,1.5,", b"J007,"), r"^row 8 has 4 fields, the header 5"),  # pandas would fill a NaN
    # cut at a line's end inside a quoted field: every row has its fields, the text ends with a newline
    (HEADER + ROWS[:-len(b'field"\n')], r"^does not read as a CSV table \(row 30: unexpected end of data\)$"),
    (HEADER[:-1], r"^the header ends without a newline: the file is cut short$"),
    (HEADER + ROWS.replace(b"J011,", b"J011,9,"), r"^row 12 has 6 fields, the header 5"),
    (gzip.compress(HEADER + ROWS)[:-9], r"^the gzip stream is cut short \(the download ended early\)$"),
    (gzip.compress(HEADER + ROWS)[:-4] + b"\0\0\0\0", r"^does not decompress"),  # a wrong length in the trailer
])
def test_a_catalogue_cut_short_or_malformed_is_not_complete(tmp_path, body, message):
    (tmp_path / "in.csv").write_bytes(body)
    with pytest.raises(BadContent, match=message):
        check_complete(tmp_path / "in.csv")


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_a_whole_catalogue_is_complete(tmp_path, compress, newline):
    """Quoted fields with commas and line breaks, and a blank line at the end, are one row each."""
    body = (HEADER + ROWS).replace(b"\n", newline) + newline
    (tmp_path / "in.csv").write_bytes(gzip.compress(body) if compress else body)
    check_complete(tmp_path / "in.csv")
    assert len(pd.read_csv(tmp_path / "in.csv", compression="gzip" if compress else None)) == 30
