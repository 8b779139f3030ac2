"""`galaxy-contrastive similar`: against a brute-force numpy oracle, through the command, and on a
model trained by the real pipeline."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from pipeline import paths
from pipeline.cli import main
from pipeline.cli.grid import CAPTION, THUMB
from pipeline.cli.similar import similar_table
from pipeline.cli.vectors import read_vectors, write_vectors
from tests.cli.conftest import SURVEY


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _embeddings(tmp_path, n=30, seed=0, with_images=True):
    """An embeddings file of n random galaxies, each with a small image of its own colour."""
    rng = np.random.default_rng(seed)
    backbone = rng.normal(size=(n, 8)).astype(np.float32)
    projection = rng.normal(size=(n, 4)).astype(np.float32)
    ids = [f"g{i:02d}" for i in range(n)]
    image_paths = []
    for i in range(n):
        path = tmp_path / "images" / f"{ids[i]}.png"
        if with_images:
            path.parent.mkdir(exist_ok=True)
            Image.new("RGB", (32, 32), (8 * i % 256, 100, 50)).save(path)
        image_paths.append(str(path))
    out = tmp_path / "e.parquet"
    write_vectors(out, ids, image_paths, backbone, projection, {"survey": "test"})
    return out, ids, backbone, projection


@pytest.mark.parametrize("representation", ["projection", "backbone"])
def test_matches_brute_force(tmp_path, representation):
    out, ids, backbone, projection = _embeddings(tmp_path, with_images=False)
    x = backbone if representation == "backbone" else projection
    query = np.random.default_rng(1).normal(size=(1, x.shape[1])).astype(np.float32)
    table = similar_table(read_vectors(out), query, 7, representation)
    cos = (_unit(x) @ _unit(query).T)[:, 0]
    oracle = np.argsort(-cos)[:7]
    assert table["id"].tolist() == [ids[i] for i in oracle]
    np.testing.assert_allclose(table["similarity"], cos[oracle], atol=1e-5)
    assert table["rank"].tolist() == list(range(1, 8))


def test_query_first_even_when_a_duplicate_ties(tmp_path):
    out, ids, _, projection = _embeddings(tmp_path, with_images=False)
    projection[5] = 3 * projection[2]  # the same direction: cosine similarity 1 with galaxy 2
    write_vectors(out, ids, [""] * len(ids), projection[:, :1].repeat(2, 1), projection, {})
    for row, twin in ((5, 2), (2, 5)):
        vectors = read_vectors(out)
        table = similar_table(vectors, projection[row:row + 1], 3, "projection", query_row=row)
        assert table["id"].tolist()[:2] == [ids[row], ids[twin]]
        np.testing.assert_allclose(table["similarity"][:2], 1.0, atol=1e-6)


def test_command_table_csv_and_png_grid(tmp_path, capsys):
    out, ids, *_ = _embeddings(tmp_path)
    csv, png = tmp_path / "t.csv", tmp_path / "g.png"
    assert main(["similar", str(out), "g07", "-k", "4", "-o", str(csv), "--grid", str(png)]) == 0
    table = pd.read_csv(csv, dtype={"id": str})
    assert table.columns.tolist() == ["rank", "id", "similarity", "path"] and len(table) == 4
    assert table["id"][0] == "g07" and table["similarity"][0] == pytest.approx(1.0, abs=1e-6)
    assert table["path"][0].endswith("g07.png")
    printed = capsys.readouterr().out
    assert "cosine similarity (projection) to g07" in printed and "g07" in printed.split("\n")[2]
    with Image.open(png) as grid:
        assert grid.size == (4 * THUMB, THUMB + CAPTION)
        # the first tile is g07's own image (colour 56, 100, 50), drawn in its centre
        assert grid.getpixel((THUMB // 2, THUMB // 2)) == (56, 100, 50)


def test_html_grid_is_self_contained(tmp_path):
    out, ids, *_ = _embeddings(tmp_path)
    (tmp_path / "images" / "g03.png").unlink()  # a moved input: a grey tile, not a failure
    page = tmp_path / "sub" / "g.html"
    assert main(["similar", str(out), "g03", "-k", "5", "--grid", str(page)]) == 0
    text = page.read_text()
    assert text.count("<figure>") == 5 and text.count("data:image/png;base64,") == 4
    assert "no preview" in text and "src=\"/" not in text and "file:" not in text


def test_unknown_id_exits_2_naming_it_and_the_file(tmp_path, capsys):
    out, *_ = _embeddings(tmp_path, with_images=False)
    assert main(["similar", str(out), "nope", "-k", "3"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "'nope'" in err and str(out) in err


def test_image_query_needs_model(tmp_path, capsys):
    out, *_ = _embeddings(tmp_path)
    assert main(["similar", str(out), str(tmp_path / "images" / "g01.png")]) == 2
    assert "needs --model" in capsys.readouterr().err


def test_grid_of_a_folder_without_paths_refused(tmp_path, capsys, trained_sim_sdss):
    folder = trained_sim_sdss.path / paths.embeddings_dir(SURVEY)
    assert main(["similar", str(folder), "x", "--grid", str(tmp_path / "g.png")]) == 2
    assert "holds no image paths" in capsys.readouterr().err
    assert main(["similar", str(folder), "x", "--grid", str(tmp_path / "g.jpg")]) == 2
    assert "must end in .png or .html" in capsys.readouterr().err


def test_trained_model_galaxy_first(tmp_path, trained_sim_sdss):
    """The done-when: on the pipeline's own embeddings a galaxy's most similar is itself, at 1.0."""
    folder = trained_sim_sdss.path / paths.embeddings_dir(SURVEY)
    vectors = read_vectors(folder)
    for galaxy in vectors.ids[[0, len(vectors) // 2, -1]]:
        csv = tmp_path / f"{galaxy}.csv"
        assert main(["similar", str(folder), galaxy, "-k", "5", "-o", str(csv)]) == 0
        table = pd.read_csv(csv, dtype={"id": str})
        assert table["id"][0] == galaxy
        assert table["similarity"][0] == pytest.approx(1.0, abs=1e-5)
        assert table["similarity"].is_monotonic_decreasing and len(table) == 5


def test_image_query_embedded_with_the_model(tmp_path, trained_sim_sdss, capsys):
    """An image file as QUERY is embedded as `embed` embeds it: its own row comes first at 1.0."""
    repo = trained_sim_sdss
    model = repo.path / paths.model_file(SURVEY)
    images = repo.path / paths.images_dir(SURVEY) / "images"
    embeddings = tmp_path / "e.parquet"
    assert main(["embed", str(model), str(images), "-o", str(embeddings), "--device", "cpu"]) == 0
    query = sorted(images.iterdir())[3]
    out = tmp_path / "t.csv"
    assert main(["similar", str(embeddings), str(query), "--model", str(model), "-k", "3", "-o", str(out)]) == 0
    table = pd.read_csv(out, dtype={"id": str})
    assert table["id"][0] == query.stem and table["similarity"][0] == pytest.approx(1.0, abs=1e-5)
    # another model file than the one that made EMBEDDINGS is refused, naming it
    other = tmp_path / "other.pt"
    other.write_bytes(model.read_bytes() + b"\0")
    capsys.readouterr()
    assert main(["similar", str(embeddings), str(query), "--model", str(other)]) == 2
    assert f"--model {other}: not the model file that made EMBEDDINGS" in capsys.readouterr().err
