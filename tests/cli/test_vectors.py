"""The command's embeddings file, and a pipeline embed folder read through the same interface."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.cli.vectors import META_KEY, VectorsError, read_vectors, write_vectors
from pipeline.embeddings import save_embeddings


def _arrays(n=5, f=6, p=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, f)).astype(np.float32), rng.normal(size=(n, p)).astype(np.float32)


def test_file_round_trip(tmp_path):
    backbone, projection = _arrays()
    ids = [f"g{i}" for i in range(5)]
    paths = [f"imgs/g{i}.jpg" for i in range(5)]
    meta = {"model": "m.pt", "survey": "sim_sdss", "model_digest": "abc"}
    out = tmp_path / "e.parquet"
    write_vectors(out, ids, paths, backbone, projection, meta)
    assert [p.name for p in tmp_path.iterdir()] == ["e.parquet"]  # the temporary file was renamed
    v = read_vectors(out)
    assert v.ids.tolist() == ids and v.paths.tolist() == paths
    np.testing.assert_array_equal(v.backbone, backbone)
    np.testing.assert_array_equal(v.projection, projection)
    assert v.backbone.dtype == np.float32 and v.meta == meta
    assert v.labels is None and v.splits is None and v.classes is None
    # the agreed layout: id/path strings, list columns, JSON under the schema metadata key
    table = pq.read_table(out)
    assert json.loads(table.schema.metadata[META_KEY]) == meta
    assert pa.types.is_string(table.schema.field("id").type)
    assert table.column("backbone").to_pylist()[1] == pytest.approx(backbone[1].tolist())


def test_file_with_labels(tmp_path):
    backbone, projection = _arrays(n=3)
    write_vectors(tmp_path / "e.parquet", ["a", "b", "c"], ["", "", ""], backbone, projection, {},
                  labels=["spiral", "elliptical", "spiral"])
    assert read_vectors(tmp_path / "e.parquet").labels.tolist() == ["spiral", "elliptical", "spiral"]


def test_variable_length_lists_written_by_pandas(tmp_path):
    """A file made by other tools (pandas: list<double> columns) reads the same."""
    backbone, projection = _arrays(n=3)
    pd.DataFrame({"id": ["a", "b", "c"], "path": ["x", "y", "z"], "backbone": list(backbone.astype(np.float64)),
                  "projection": list(projection)}).to_parquet(tmp_path / "e.parquet")
    v = read_vectors(tmp_path / "e.parquet")
    np.testing.assert_allclose(v.backbone, backbone)
    assert v.projection.shape == (3, 3) and v.meta == {}


def test_ragged_rows_named(tmp_path):
    pd.DataFrame({"id": ["a", "b"], "backbone": [[1.0, 2.0], [1.0]],
                  "projection": [[1.0], [2.0]]}).to_parquet(tmp_path / "e.parquet")
    with pytest.raises(VectorsError, match=r"e\.parquet: column 'backbone' row 1 has 1 values, row 0 has 2"):
        read_vectors(tmp_path / "e.parquet")


def test_missing_column_named(tmp_path):
    pd.DataFrame({"id": ["a"], "backbone": [[1.0]]}).to_parquet(tmp_path / "e.parquet")
    with pytest.raises(VectorsError, match=r"e\.parquet: no column 'projection'"):
        read_vectors(tmp_path / "e.parquet")


def test_not_parquet_and_missing(tmp_path):
    (tmp_path / "e.parquet").write_text("not parquet")
    with pytest.raises(VectorsError, match=r"e\.parquet: not a readable parquet"):
        read_vectors(tmp_path / "e.parquet")
    with pytest.raises(VectorsError, match=r"nope\.parquet: no such embeddings file"):
        read_vectors(tmp_path / "nope.parquet")
    (tmp_path / "folder").mkdir()
    with pytest.raises(VectorsError, match=r"folder: a pipeline embed folder needs galaxies\.parquet"):
        read_vectors(tmp_path / "folder")


def test_pipeline_folder(tmp_path):
    backbone, projection = _arrays(n=4)
    # label ids in the survey's class order, which is not alphabetical: kNN ties follow it
    index = pd.DataFrame({"id": ["1", "2", "3", "4"], "label": ["spiral", "elliptical", "spiral", "edge_on"],
                          "label_id": [0, 1, 0, 2], "split": ["train", "train", "test", "val"]})
    save_embeddings(tmp_path / "sim_x", index, backbone, projection)
    v = read_vectors(tmp_path / "sim_x")
    assert v.ids.tolist() == ["1", "2", "3", "4"] and v.paths is None
    assert v.labels.tolist() == index["label"].tolist() and v.splits.tolist() == index["split"].tolist()
    assert v.classes == ("spiral", "elliptical", "edge_on")
    assert v.meta == {"survey": "sim_x"}
    np.testing.assert_array_equal(v.projection, projection)
    test = v.subset(v.splits == "test")
    assert test.ids.tolist() == ["3"] and test.labels.tolist() == ["spiral"]
    np.testing.assert_array_equal(test.backbone, backbone[2:3])


def test_unknown_id_names_it_and_the_file(tmp_path):
    backbone, projection = _arrays(n=2)
    write_vectors(tmp_path / "e.parquet", ["a", "b"], ["", ""], backbone, projection, {})
    v = read_vectors(tmp_path / "e.parquet")
    assert v.row_of("b") == 1
    with pytest.raises(VectorsError, match=r"e\.parquet: no galaxy with id 'zz'"):
        v.row_of("zz")


def test_write_checks_lengths(tmp_path):
    backbone, projection = _arrays(n=2)
    with pytest.raises(ValueError, match="3 ids, 2 paths"):
        write_vectors(tmp_path / "e.parquet", ["a", "b", "c"], ["", ""], backbone, projection, {})
