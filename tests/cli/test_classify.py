"""`galaxy-contrastive classify`: the evaluate stage's kNN predictions, reproduced through the
command; scikit-learn's cosine kNN as an independent oracle; the user's errors."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.neighbors import KNeighborsClassifier

from pipeline import paths
from pipeline.cli import main
from pipeline.cli.classify import predict
from pipeline.cli.vectors import read_vectors, write_vectors
from pipeline.embeddings import save_embeddings
from tests.cli.conftest import SURVEY


@pytest.fixture(scope="module")
def pipeline_run(trained_sim_sdss):
    """The tiny pipeline's embed folder, its evaluate predictions and its evaluate.k."""
    repo = trained_sim_sdss
    return (repo.path / paths.embeddings_dir(SURVEY),
            pd.read_csv(repo.path / paths.confusion_file(SURVEY), dtype={"id": str}),
            repo.params()["evaluate"]["k"])


def test_reproduces_the_evaluate_stage(tmp_path, pipeline_run):
    folder, expected, k = pipeline_run
    out = tmp_path / "pred.csv"
    assert main(["classify", str(folder), "--split", "test", "--bank", str(folder), "-k", str(k),
                 "-o", str(out)]) == 0
    got = pd.read_csv(out, dtype={"id": str})
    assert len(got) == len(expected) > 0
    pd.testing.assert_frame_equal(got[["id", "actual", "predicted"]], expected[["id", "actual", "predicted"]])


def test_agrees_with_scikit_learn(pipeline_run):
    """An independent kNN: cosine metric, brute force, labels as the survey's class ids (ties to
    the lowest, as the evaluate stage); its vote share is the command's confidence."""
    folder, _, k = pipeline_run
    vectors = read_vectors(folder)
    bank, test = vectors.subset(vectors.splits == "train"), vectors.subset(vectors.splits == "test")
    class_id = {c: i for i, c in enumerate(vectors.classes)}
    oracle = KNeighborsClassifier(n_neighbors=k, metric="cosine", algorithm="brute")
    oracle.fit(bank.projection, [class_id[c] for c in bank.labels])
    table = predict(bank, test, k, "projection")
    assert table["predicted"].tolist() == [vectors.classes[i] for i in oracle.predict(test.projection)]
    np.testing.assert_allclose(table["confidence"], oracle.predict_proba(test.projection).max(1), atol=1e-6)


def _file(path, vectors, labels=None):
    write_vectors(path, [f"g{i}" for i in range(len(vectors))], [""] * len(vectors), vectors, vectors, {},
                  labels=labels)
    return path


def test_labelled_file_bank_ties_and_confidence(tmp_path):
    """A labelled embeddings file as the bank: its whole set votes; a 2-2 tie goes to the class
    listed first (the file's classes are sorted names)."""
    bank = np.array([[1, 0], [1, 0.1], [0, 1], [0.1, 1], [1, 1]], dtype=np.float32)
    labels = ["b_spiral", "b_spiral", "a_elliptical", "a_elliptical", "b_spiral"]
    queries = np.array([[1, 0.05], [1, 1.0]], dtype=np.float32)
    out = tmp_path / "p.csv"
    assert main(["classify", str(_file(tmp_path / "q.parquet", queries)), "--bank",
                 str(_file(tmp_path / "bank.parquet", bank, labels)), "-k", "3", "-o", str(out)]) == 0
    got = pd.read_csv(out)
    assert got["predicted"].tolist() == ["b_spiral", "b_spiral"]
    assert got["confidence"].tolist() == pytest.approx([1.0, 2 / 3])


def test_tie_goes_to_the_first_class(tmp_path):
    bank = np.array([[1, 0], [0, 1]], dtype=np.float32)
    query = np.array([[1, 1]], dtype=np.float32)
    for labels, winner in ((["z", "a"], "a"), (["a", "z"], "a")):
        out = tmp_path / "p.csv"
        assert main(["classify", str(_file(tmp_path / "q.parquet", query)), "--bank",
                     str(_file(tmp_path / "bank.parquet", bank, labels)), "-k", "2", "-o", str(out)]) == 0
        got = pd.read_csv(out)
        assert got["predicted"][0] == winner and got["confidence"][0] == 0.5


def test_folder_bank_ties_follow_the_survey_class_order(tmp_path):
    """A pipeline folder's classes are in label-id order (not alphabetical): ties go to the first."""
    index = pd.DataFrame({"id": ["1", "2", "3"], "label": ["spiral", "elliptical", "spiral"],
                          "label_id": [0, 1, 0], "split": ["train", "train", "test"]})
    vectors = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32)
    save_embeddings(tmp_path / "sim_x", index, vectors, vectors)
    out = tmp_path / "p.csv"
    assert main(["classify", str(tmp_path / "sim_x"), "--split", "test", "--bank", str(tmp_path / "sim_x"),
                 "-k", "2", "-o", str(out)]) == 0
    got = pd.read_csv(out, dtype={"id": str})
    assert got[["id", "predicted", "confidence", "actual"]].values.tolist() == [["3", "spiral", 0.5, "spiral"]]


def test_folder_bank_is_its_train_split(tmp_path):
    """Only the train split votes: val and test galaxies, though nearer, are no bank."""
    index = pd.DataFrame({"id": ["1", "2", "3", "4"], "label": ["spiral", "elliptical", "elliptical", "spiral"],
                          "label_id": [0, 1, 1, 0], "split": ["train", "val", "test", "test"]})
    vectors = np.array([[1, 0], [0, 1], [0.1, 1], [0, 1]], dtype=np.float32)
    save_embeddings(tmp_path / "sim_x", index, vectors, vectors)
    out = tmp_path / "p.csv"
    assert main(["classify", str(tmp_path / "sim_x"), "--split", "val", "--bank", str(tmp_path / "sim_x"),
                 "-k", "1", "-o", str(out)]) == 0
    assert pd.read_csv(out, dtype={"id": str})[["id", "predicted"]].values.tolist() == [["2", "spiral"]]


def test_bank_without_labels_exits_2(tmp_path, capsys):
    vectors = np.eye(3, dtype=np.float32)
    bank = _file(tmp_path / "bank.parquet", vectors)
    assert main(["classify", str(_file(tmp_path / "q.parquet", vectors)), "--bank", str(bank)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"--bank {bank}: has no labels" in err


def test_bad_k_and_split_exit_2(tmp_path, capsys):
    vectors = np.eye(3, dtype=np.float32)
    q, bank = _file(tmp_path / "q.parquet", vectors), _file(tmp_path / "b.parquet", vectors, ["a", "b", "a"])
    assert main(["classify", str(q), "--bank", str(bank), "-k", "4"]) == 2
    assert "-k 4: must be 1..3" in capsys.readouterr().err
    assert main(["classify", str(q), "--bank", str(bank), "--split", "test"]) == 2
    assert f"--split test: {q} has no splits" in capsys.readouterr().err
