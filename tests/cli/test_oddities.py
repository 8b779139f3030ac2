"""`galaxy-contrastive oddities`: against a brute-force numpy oracle, and on images deliberately out
of distribution embedded by a model the real pipeline trained."""
from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from pipeline import paths
from pipeline.cli import main
from pipeline.cli.oddities import oddities_table, oddity_scores
from pipeline.cli.vectors import read_vectors, write_vectors
from pipeline.surveys.sim.source import SimSource
from tests.cli.conftest import SURVEY

OTHER_SURVEY = "sim_decals"  # 424 px frames, another pixel scale and colour mapping


def _oracle(x: np.ndarray, k: int) -> np.ndarray:
    """Mean cosine distance to the k nearest other rows, by the full similarity matrix."""
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    sims = u @ u.T
    np.fill_diagonal(sims, -np.inf)
    return 1 - np.sort(sims, axis=1)[:, ::-1][:, :k].mean(1)


@pytest.mark.parametrize("k", [1, 4, 29])
def test_scores_match_brute_force(k):
    x = np.random.default_rng(k).normal(size=(30, 6)).astype(np.float32)
    np.testing.assert_allclose(oddity_scores(x, k), _oracle(x, k), atol=1e-5)


def test_command_ranks_by_the_oracle(tmp_path, capsys):
    rng = np.random.default_rng(0)
    backbone = rng.normal(size=(40, 8)).astype(np.float32)
    backbone[:35] = backbone[:35] * 0.1 + np.ones(8, dtype=np.float32)  # a tight crowd, five strays
    ids = [f"g{i:02d}" for i in range(40)]
    write_vectors(tmp_path / "e.parquet", ids, [f"{i}.jpg" for i in ids], backbone, backbone[:, :3], {})
    out = tmp_path / "odd.csv"
    assert main(["oddities", str(tmp_path / "e.parquet"), "-n", "6", "-k", "3", "-o", str(out)]) == 0
    table = pd.read_csv(out)
    expected = np.argsort(-_oracle(backbone, 3), kind="stable")[:6]
    assert table["id"].tolist() == [ids[i] for i in expected]
    assert set(table["id"][:5]) == {f"g{i}" for i in range(35, 40)}
    assert table["oddity"].is_monotonic_decreasing and table.columns.tolist() == ["rank", "id", "oddity", "path"]
    printed = capsys.readouterr().out
    assert "mean cosine distance" in printed and "k=3" in printed and "backbone" in printed


def test_projection_on_request(tmp_path):
    x = np.random.default_rng(3).normal(size=(20, 5)).astype(np.float32)
    write_vectors(tmp_path / "e.parquet", [str(i) for i in range(20)], [""] * 20, x[:, :2], x, {})
    table = oddities_table(read_vectors(tmp_path / "e.parquet"), 20, 4, "projection")
    np.testing.assert_allclose(table.sort_values("id", key=lambda s: s.astype(int))["oddity"], _oracle(x, 4),
                               atol=1e-5)


def test_bad_k_exits_2(tmp_path, capsys):
    write_vectors(tmp_path / "e.parquet", ["a", "b"], ["", ""], np.eye(2), np.eye(2), {})
    assert main(["oddities", str(tmp_path / "e.parquet"), "-k", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "-k 2: must be 1..1" in err


def _other_survey_images(repo, out_dir, n: int) -> list:
    """``n`` galaxies of another simulated survey, rendered by its own source code and settings."""
    params = repo.params()
    cfg = {**params["survey"][OTHER_SURVEY]["source"], "n_galaxies": 20, "n_workers": 1}
    source = SimSource(OTHER_SURVEY, cfg, params["seed"], population=params["sim_population"])
    catalogue = source.fetch_catalogue(out_dir)
    selected = catalogue.rename(columns={source.id_column: "id"})[["id", "ra", "dec"]].head(n)
    source.fetch_images(selected, out_dir, out_dir)
    return sorted((out_dir / "images").iterdir())


def test_out_of_distribution_images_rank_first(tmp_path, trained_sim_sdss):
    """The survey's own images plus a star-only frame, a blank frame, pure noise and another
    survey's galaxies (resized to this survey's frame) embedded by the tiny pipeline's model."""
    repo = trained_sim_sdss
    folder = tmp_path / "images"
    shutil.copytree(repo.path / paths.images_dir(SURVEY) / "images", folder)
    n_typical = len(list(folder.iterdir()))
    size = repo.params()["survey"][SURVEY]["image"]["native_size"]
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size]
    stars = np.zeros((size, size))
    for y, x in rng.integers(10, size - 10, size=(4, 2)):  # PSF-like point sources on a black sky
        stars = np.maximum(stars, 255 * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * 1.5 ** 2)))
    frames = {"odd_stars": np.repeat(stars[..., None], 3, 2), "odd_blank": np.zeros((size, size, 3)),
              "odd_noise": rng.integers(0, 256, (size, size, 3))}
    for name, frame in frames.items():
        Image.fromarray(frame.astype(np.uint8)).save(folder / f"{name}.jpg", quality=95)
    other = _other_survey_images(repo, tmp_path / "other", 2)
    for i, path in enumerate(other):
        with Image.open(path) as im:
            im.convert("RGB").resize((size, size), Image.Resampling.LANCZOS).save(folder / f"odd_survey{i}.jpg")
    embeddings = tmp_path / "e.parquet"
    assert main(["embed", str(repo.path / paths.model_file(SURVEY)), str(folder), "-o", str(embeddings),
                 "--device", "cpu"]) == 0
    out, grid = tmp_path / "odd.csv", tmp_path / "odd.html"
    n_all = n_typical + len(frames) + len(other)
    assert main(["oddities", str(embeddings), "-n", str(n_all), "-o", str(out), "--grid", str(grid)]) == 0
    ranks = {row.id: row.rank for row in pd.read_csv(out, dtype={"id": str}).itertuples()}
    print({name: rank for name, rank in ranks.items() if name.startswith("odd_")}, "of", n_all)
    top_tenth = int(np.ceil(0.1 * n_all))
    # the frames with no galaxy at all: among the top tenth
    assert ranks["odd_stars"] <= top_tenth and ranks["odd_blank"] <= top_tenth
    # noise and another survey's galaxies: above the median typical galaxy (a two-epoch model on
    # 64 galaxies tells a resized galaxy from its own survey's only roughly)
    typical_median = np.median([r for name, r in ranks.items() if not name.startswith("odd_")])
    for name in ("odd_noise", *(f"odd_survey{i}" for i in range(len(other)))):
        assert ranks[name] < typical_median, (name, ranks[name], typical_median)
    assert grid.read_text().count("data:image/png;base64,") == n_all
