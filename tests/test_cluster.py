"""The clustering analysis (paper Sect. 4.5.1, Figs. 12-14) against SciPy and hand computations."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image as PILImage
from scipy.cluster.hierarchy import fcluster, linkage

from pipeline.cluster import (cluster_vectors, galaxies_to_cluster, image_rows, renumber_by_size, scores,
                              write_assignments)
from pipeline.cluster_plots import dendrogram_figure, grid_figure, sizes_figure
from pipeline.config import ConfigError
from pipeline.embeddings import save_embeddings
from pipeline.errors import InputError
from pipeline.params import Cluster
from pipeline.prepare import Prepared, save
from stages import cluster as cluster_stage

ROOT = Path(__file__).resolve().parents[1]
KEY = "survey.toy.cluster.threshold"


def config(method: str = "ward", metric: str = "euclidean") -> Cluster:
    return Cluster(representation="projection", linkage=method, metric=metric, grid_galaxies=3,
                   grid_max_clusters=4, dendrogram_leaves=10)


def blobs(seed: int, n: int, n_classes: int, d: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(n_classes, d))
    labels = rng.integers(0, n_classes, n)
    return centres[labels] + rng.normal(size=(n, d)), labels


def partition(clusters: np.ndarray) -> set[frozenset[int]]:
    return {frozenset(np.flatnonzero(clusters == c).tolist()) for c in np.unique(clusters)}


@pytest.mark.parametrize("method,metric", [("ward", "euclidean"), ("average", "cosine"), ("single", "cityblock")])
def test_clusters_are_scipys_fcluster_cut_numbered_by_size(method, metric):
    x, _ = blobs(0, 80, 4)
    tree = linkage(x, method=method, metric=metric)
    threshold = float(np.median(tree[:, 2]))  # somewhere inside the tree: several clusters
    expected = fcluster(tree, t=threshold, criterion="distance")

    result = cluster_vectors(x, config(method, metric), threshold, KEY)

    assert partition(result.clusters) == partition(expected)
    np.testing.assert_array_equal(result.tree, tree)
    sizes = np.bincount(result.clusters)[1:]
    assert sorted(sizes, reverse=True) == sorted(np.bincount(expected)[1:], reverse=True)
    assert list(sizes) == sorted(sizes, reverse=True), "cluster 1 is the largest, then by size"
    assert 2 < len(sizes) < len(x)


def test_renumbering_by_size_breaks_ties_by_first_member():
    # sizes: label 7 has 3, labels 5 and 2 have 2 each (5 comes first in the data), label 9 has 1
    raw = np.array([5, 5, 2, 7, 7, 7, 2, 9])
    assert renumber_by_size(raw).tolist() == [2, 2, 3, 1, 1, 1, 3, 4]


def test_scores_on_a_hand_made_example():
    classes = ["a", "b", "c"]
    labels = np.array([0, 0, 0, 0, 1, 2])
    clusters = np.array([1, 1, 2, 2, 2, 3])
    got = scores(clusters, labels, classes, threshold=1.5)

    # majorities: 2 a of cluster 1, 2 a of cluster 2, 1 c of cluster 3: 5 of 6 galaxies
    assert got["purity"] == round(5 / 6 * 100, 4)
    # NMI by hand: mutual information over the four non-empty cells, over the mean entropy
    mi = (math.log((2 / 6) / ((2 / 6) * (4 / 6))) * 2 / 6 + math.log((2 / 6) / ((3 / 6) * (4 / 6))) * 2 / 6
          + math.log((1 / 6) / ((3 / 6) * (1 / 6))) / 6 + math.log((1 / 6) / ((1 / 6) * (1 / 6))) / 6)
    h_labels = -(4 / 6 * math.log(4 / 6) + 2 / 6 * math.log(1 / 6))
    h_clusters = -(2 / 6 * math.log(2 / 6) + 3 / 6 * math.log(3 / 6) + 1 / 6 * math.log(1 / 6))
    assert got["nmi"] == pytest.approx(mi / ((h_labels + h_clusters) / 2), abs=1e-6)
    # ARI by hand: pairs together in both 1 + 1, in clusters 1 + 3, in labels 6, of 15 pairs
    expected_index = 4 * 6 / 15
    assert got["ari"] == pytest.approx((2 - expected_index) / ((4 + 6) / 2 - expected_index), abs=1e-6)
    assert got["n_clusters"] == 3 and got["n_galaxies"] == 6 and got["threshold"] == 1.5
    assert got["sizes"] == [2, 3, 1]
    assert got["labels"] == {"1": {"a": 2, "b": 0, "c": 0}, "2": {"a": 2, "b": 1, "c": 0},
                             "3": {"a": 0, "b": 0, "c": 1}}


def test_a_threshold_above_the_root_merge_is_refused_with_the_root_distance():
    x, _ = blobs(1, 30, 3)
    root = linkage(x, method="ward")[-1, 2]
    with pytest.raises(ConfigError, match=rf"^{KEY}: .*all 30 test galaxies in 1 cluster.* {root:.6g}"):
        cluster_vectors(x, config(), float(root), KEY)
    # the message's advice, a threshold below the root merge, works
    assert cluster_vectors(x, config(), float(np.nextafter(root, 0)), KEY).clusters.max() == 2


def test_a_threshold_below_every_merge_is_refused_with_the_smallest_merge():
    x, _ = blobs(2, 30, 3)
    first = linkage(x, method="ward")[0, 2]
    with pytest.raises(ConfigError, match=rf"^{KEY}: .*each of the 30 test galaxies.*\(30 clusters\).* {first:.6g}"):
        cluster_vectors(x, config(), float(np.nextafter(first, 0)), KEY)
    assert cluster_vectors(x, config(), float(first), KEY).clusters.max() == 29


def embeddings(labels: np.ndarray, split: list[str], vectors: np.ndarray) -> dict[str, np.ndarray]:
    return {"id": np.array([f"g{i}" for i in range(len(labels))]), "label_id": labels, "split": np.array(split),
            "projection": vectors, "backbone": vectors[:, :2]}


def test_fewer_than_two_test_galaxies_is_an_input_error_naming_the_survey():
    x, y = blobs(3, 5, 2)
    emb = embeddings(y, ["train", "train", "val", "test", "train"], x)
    with pytest.raises(InputError, match="survey toy: 1 test galaxies"):
        galaxies_to_cluster(emb, "projection", "toy")
    emb["split"][0] = "test"
    test = galaxies_to_cluster(emb, "projection", "toy")
    assert test["id"].tolist() == ["g0", "g3"]
    np.testing.assert_array_equal(test["vectors"], x[[0, 3]])


def test_non_finite_vectors_are_an_input_error_naming_the_survey():
    x, y = blobs(3, 5, 2)
    x[3, 1:3] = [np.nan, np.inf]  # two bad values, one galaxy
    emb = embeddings(y, ["test", "train", "test", "test", "train"], x)
    with pytest.raises(InputError, match="survey toy: 1 of the 3 test galaxies have non-finite projection"):
        galaxies_to_cluster(emb, "projection", "toy")
    x[3, 1:3] = 0.0
    assert len(galaxies_to_cluster(emb, "projection", "toy")["vectors"]) == 3


def test_image_rows_follow_the_ids_and_a_missing_galaxy_is_named():
    assert image_rows(np.array(["a", "b", "c"]), np.array(["c", "a"]), "toy").tolist() == [2, 0]
    with pytest.raises(InputError, match="survey toy: 1 embedded galaxies .*z.*embed@toy"):
        image_rows(np.array(["a", "b"]), np.array(["a", "z"]), "toy")


def test_assignments_file_has_one_row_per_galaxy(tmp_path):
    path = tmp_path / "out" / "toy.csv"
    write_assignments(path, np.array(["g1", "g2"]), np.array([1, 0]), np.array([2, 1]), ["a", "b"])
    assert path.read_text().splitlines() == ["id,label,cluster", "g1,b,2", "g2,a,1"]


def test_dendrogram_draws_the_cut_and_its_truncated_leaves_hold_every_galaxy():
    x, y = blobs(5, 40, 3)
    tree = linkage(x, method="ward")
    threshold = float(tree[-4, 2])
    fig = dendrogram_figure(tree, y, ["a", "b", "c"], threshold, 4, max_leaves=10, title="toy")
    ax = fig.axes[0]
    dashed = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert len(dashed) == 1 and list(dashed[0].get_ydata()) == [threshold, threshold]
    leaves = [t.get_text() for t in ax.get_xticklabels()]
    assert len(leaves) == 10
    # a leaf is one galaxy ("b") or a subtree ("b (7)"): together, all 40
    assert sum(int(t.split("(")[1].rstrip(")")) if "(" in t else 1 for t in leaves) == 40


def test_sizes_chart_stacks_each_cluster_by_class():
    clusters = np.array([1, 1, 1, 2, 2, 3])
    labels = np.array([0, 1, 1, 2, 0, 2])
    ax = sizes_figure(clusters, labels, ["a", "b", "c"], "toy").axes[0]
    per_cluster = np.zeros((3, 3))
    for bar, (cls, cluster) in zip(ax.patches, [(j, c) for j in range(3) for c in range(3)]):
        assert round(bar.get_y() + bar.get_height() / 2) == cluster + 1
        assert bar.get_x() == per_cluster[cluster, :cls].sum(), "stacked after the previous classes"
        per_cluster[cluster, cls] = bar.get_width()
    np.testing.assert_array_equal(per_cluster, [[1, 2, 0], [1, 0, 1], [0, 0, 1]])


def test_grid_rows_show_members_of_the_largest_clusters():
    clusters = np.array([2, 1, 1, 3, 1, 2, 1, 3, 4])
    labels = np.zeros(9, dtype=int)
    images = np.repeat(np.arange(9, dtype=np.uint8)[:, None, None, None], 4, axis=1).repeat(4, axis=2).repeat(3, axis=3)
    fig = grid_figure(images, clusters, labels, ["a", "b"], max_clusters=3, per_cluster=3, seed=0, title="toy")
    axes = np.array(fig.axes).reshape(3, 3)
    for row, cluster in zip(axes, (1, 2, 3)):
        assert row[0].get_ylabel().startswith(f"C{cluster}  n={(clusters == cluster).sum()}\n")
        shown = [int(ax.get_images()[0].get_array()[0, 0, 0]) for ax in row if ax.get_images()]
        assert len(shown) == min(3, (clusters == cluster).sum()) and len(set(shown)) == len(shown)
        assert all(clusters[g] == cluster for g in shown)


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A survey `sim_decals` with 20 test galaxies of 4 well separated classes, and their images."""
    monkeypatch.chdir(tmp_path)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["survey"]["sim_decals"]["cluster"]["threshold"] = 20.0
    params["cluster"]["dendrogram_leaves"] = 10  # the 20 test galaxies: a truncated tree
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    rng = np.random.default_rng(4)
    # test split: 3, 5, 4, 8 galaxies of the four classes, so numbering by size differs from class order
    test_labels = rng.permutation(np.repeat([0, 1, 2, 3], [3, 5, 4, 8]))
    labels = np.concatenate([test_labels, np.repeat([0, 1, 2, 3], 10)])
    n = len(labels)
    split = np.array(["test"] * len(test_labels) + ["train"] * (n - len(test_labels)))
    vectors = (rng.normal(scale=10.0, size=(4, 8))[labels] + rng.normal(size=(n, 8))).astype(np.float32)
    classes = params["survey"]["sim_decals"]["classes"]
    index = pd.DataFrame({"id": [f"g{i}" for i in range(n)], "label": [classes[i] for i in labels],
                          "label_id": labels, "split": split})
    images = rng.integers(0, 255, size=(n, 12, 12, 3), dtype=np.uint8)
    save(Prepared(images=images, index=index, mean=(0.5,) * 3, std=(0.2,) * 3), Path("data/prepared/sim_decals"))
    save_embeddings(Path("data/embed/sim_decals"), index, vectors[:, :4], vectors)
    return {"index": index, "vectors": vectors, "test": split == "test", "params": params}


def test_the_stage_writes_assignments_metrics_and_plots(workspace, capsys):
    cluster_stage.main(["sim_decals"])

    test = workspace["test"]
    table = pd.read_csv("data/cluster/sim_decals.csv")
    assert list(table.columns) == ["id", "label", "cluster"]
    assert table["id"].tolist() == workspace["index"]["id"][test].tolist()
    assert table["label"].tolist() == workspace["index"]["label"][test].tolist()
    expected = fcluster(linkage(workspace["vectors"][test].astype(np.float64), "ward"), t=20.0, criterion="distance")
    assert partition(table["cluster"].to_numpy()) == partition(expected)
    # one cluster per class, numbered by size: 8 of class 3, 5 of class 1, 4 of class 2, 3 of class 0
    by_size = {3: 1, 1: 2, 2: 3, 0: 4}
    assert table["cluster"].tolist() == [by_size[i] for i in workspace["index"]["label_id"][test]]

    metrics = json.loads(Path("metrics/cluster/sim_decals.json").read_text())
    assert metrics["n_clusters"] == 4 and metrics["sizes"] == [8, 5, 4, 3]
    assert metrics["n_galaxies"] == 20 and metrics["purity"] == 100.0 and metrics["nmi"] == metrics["ari"] == 1.0
    for name in ("dendrogram", "sizes", "grid"):
        with PILImage.open(f"metrics/cluster/sim_decals/{name}.png") as png:
            assert png.format == "PNG" and min(png.size) > 200
    assert "4 clusters of 20 test galaxies" in capsys.readouterr().out


def test_the_stage_reports_a_bad_threshold_in_one_line(workspace, capsys):
    params = workspace["params"]
    params["survey"]["sim_decals"]["cluster"]["threshold"] = 1000.0
    Path("params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(SystemExit) as exit_:
        cluster_stage.main(["sim_decals"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: survey.sim_decals.cluster.threshold: 1000 puts all 20 test galaxies in 1 cluster")
    assert len(err.splitlines()) == 1
