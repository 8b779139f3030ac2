"""The ablation summary (paper Fig. 6): curves read from DVCLive's files, scores, the plot."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.ablation import plot_curves, read_curves, scores
from pipeline.config import ConfigError


def write_live(folder, series: dict[str, list[float]]) -> None:
    """What DVCLive writes per metric: plots/metrics/<name>.tsv with a 0-based step column."""
    out = folder / "plots" / "metrics"
    out.mkdir(parents=True)
    for name, values in series.items():
        rows = "".join(f"{i}\t{v}\n" for i, v in enumerate(values))
        (out / f"{name}.tsv").write_text(f"step\t{name}\n{rows}")


def test_curves_are_indexed_by_epoch_from_one(tmp_path):
    write_live(tmp_path, {"val_knn": [50.0, 60.0, 75.5], "loss": [4.0, 3.0, 2.5]})
    curves = read_curves(tmp_path)
    assert list(curves["val_knn"].index) == [1, 2, 3]
    assert list(curves["val_knn"]) == [50.0, 60.0, 75.5] and list(curves["loss"]) == [4.0, 3.0, 2.5]


def test_a_missing_curve_names_the_file(tmp_path):
    write_live(tmp_path, {"val_knn": [50.0]})
    with pytest.raises(ConfigError, match=r"loss\.tsv: missing"):
        read_curves(tmp_path)


def test_scores_use_the_train_split_as_bank_and_the_test_split_as_queries():
    """Two well separated classes; the test galaxies' labels are recovered only from the bank."""
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 10)
    feats = np.where(labels[:, None] == 0, 1.0, -1.0) * np.ones((20, 4)) + rng.normal(0, 0.01, (20, 4))
    split = np.array(["train"] * 6 + ["test"] * 4 + ["train"] * 6 + ["test"] * 4)
    emb = {"projection": feats.astype(np.float32), "backbone": -feats.astype(np.float32),
           "label_id": labels, "split": split}
    s = scores(emb, "projection", [1, 3], 3, ["a", "b"])
    assert s["knn"] == {"k1": 100.0, "k3": 100.0} and s["nmi"] == 1.0 and s["ari"] == 1.0
    emb["label_id"] = np.where(split == "train", labels, 1 - labels)  # test labels flipped
    assert scores(emb, "projection", [1, 3], 3, ["a", "b"])["knn"]["k1"] == 0.0


def test_plot_is_written(tmp_path):
    write_live(tmp_path / "f", {"val_knn": [50.0, 70.0], "loss": [4.0, 3.0]})
    write_live(tmp_path / "c", {"val_knn": [40.0, 60.0], "loss": [4.5, 3.5]})
    out = tmp_path / "curves.png"
    plot_curves({"fusion": read_curves(tmp_path / "f"), "cnn": read_curves(tmp_path / "c")}, "toy", out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
