"""`galaxy-contrastive embed`, run as the installed command, against a model the pipeline trained."""
from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from PIL import Image as PILImage

from pipeline.cli.vectors import read_vectors
from tests.cli.conftest import SURVEY
from tests.mirror.server import Mirror
from tests.mirror.skyserver import cutout_handler, cutout_path
from tests.mirror.surveys import RELEASE, fast_http

SCRIPT = Path(sys.executable).parent / "galaxy-contrastive"


def cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    """The console script (``python -m pipeline.cli`` where it is not installed), run in ``cwd``:
    not the repository, so nothing can come from its params.yaml unless passed."""
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "pipeline.cli"]
    return subprocess.run([*command, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PATH": f"{SCRIPT.parent}{os.pathsep}{os.environ['PATH']}"})


def model_of(repo) -> Path:
    return repo.path / "data" / "train" / SURVEY / "model.pt"


def images_of(repo) -> Path:
    return repo.path / "data" / "images" / SURVEY / "images"


def pipeline_vectors(repo):
    return read_vectors(repo.path / "data" / "embed" / SURVEY)


def assert_same_vectors(out: Path, repo, ids: list[str] | None = None) -> None:
    """``out``'s vectors are the embed stage's for the same ids (``ids``: exactly those, in order)."""
    got, want = read_vectors(out), pipeline_vectors(repo)
    if ids is not None:
        assert list(got.ids) == ids
    rows = [want.row_of(i) for i in got.ids]
    np.testing.assert_allclose(got.backbone, want.backbone[rows], atol=1e-5)
    np.testing.assert_allclose(got.projection, want.projection[rows], atol=1e-5)


def test_folder_gives_the_embed_stage_vectors(trained_sim_sdss, tmp_path):
    out = tmp_path / "out.parquet"
    proc = cli("embed", model_of(trained_sim_sdss), images_of(trained_sim_sdss), "-o", out, "--device", "cpu",
               "--batch-size", "7", "--chunk-images", "20", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    vectors = read_vectors(out)
    assert sorted(vectors.ids) == sorted(pipeline_vectors(trained_sim_sdss).ids)
    assert_same_vectors(out, trained_sim_sdss)
    assert vectors.meta["survey"] == SURVEY and len(vectors.meta["model_digest"]) == 64
    assert all(Path(p).name.startswith(i) for i, p in zip(vectors.ids, vectors.paths))
    assert pd.read_csv(tmp_path / "out.rejected.csv").empty


def test_catalogue_paths_relative_to_the_catalogue(trained_sim_sdss, tmp_path):
    files = sorted(images_of(trained_sim_sdss).glob("*.jpg"))[:4]
    (tmp_path / "cat" / "imgs").mkdir(parents=True)
    rel = []
    for f in files[:3]:
        (tmp_path / "cat" / "imgs" / f.name).write_bytes(f.read_bytes())
        rel.append(f"imgs/{f.name}")
    ids = [f.stem for f in files]
    pd.DataFrame({"objid": ids, "file": rel + [str(files[3])]}).to_csv(tmp_path / "cat" / "list.csv", index=False)
    out = tmp_path / "out.parquet"
    proc = cli("embed", model_of(trained_sim_sdss), tmp_path / "cat" / "list.csv", "-o", out,
               "--id-column", "objid", "--path-column", "file", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert_same_vectors(out, trained_sim_sdss, ids)
    assert list(read_vectors(out).paths) == rel + [str(files[3])]


def jpeg_bytes(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    PILImage.fromarray(rgb).save(buf, format="JPEG")
    return buf.getvalue()


def test_unreadable_inputs_are_listed_not_fatal(trained_sim_sdss, tmp_path):
    good = sorted(images_of(trained_sim_sdss).glob("*.jpg"))[:2]
    folder = tmp_path / "in"
    folder.mkdir()
    for f in good:
        (folder / f.name).write_bytes(f.read_bytes())
    (folder / "corrupt.jpg").write_bytes(good[0].read_bytes()[:600])
    (folder / "small.jpg").write_bytes(jpeg_bytes(np.zeros((64, 64, 3), np.uint8)))
    rows = [(f.stem, f.name) for f in good] + [("corrupt", "corrupt.jpg"), ("small", "small.jpg"),
                                              ("missing", "missing.jpg"), (good[0].stem, "small.jpg"),
                                              ("nowhere", "")]
    pd.DataFrame(rows, columns=["id", "path"]).to_csv(folder / "cat.csv", index=False)
    out = tmp_path / "out.parquet"
    proc = cli("embed", model_of(trained_sim_sdss), folder / "cat.csv", "-o", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert_same_vectors(out, trained_sim_sdss, [f.stem for f in good])
    rejected = pd.read_csv(tmp_path / "out.rejected.csv", keep_default_na=False)
    reasons = dict(zip(rejected["id"], rejected["reason"]))
    assert set(reasons) == {"corrupt", "small", "missing", good[0].stem, "nowhere"}
    assert "does not decode" in reasons["corrupt"]
    assert "size 64x64, expected 128x128" in reasons["small"]
    assert "file missing" in reasons["missing"]
    assert "duplicate id" in reasons[good[0].stem]
    assert "neither path nor ra/dec" in reasons["nowhere"]
    assert "5 inputs rejected" in proc.stderr and "out.rejected.csv" in proc.stderr


def test_resize_resamples_to_the_native_size(trained_sim_sdss, tmp_path):
    src = sorted(images_of(trained_sim_sdss).glob("*.jpg"))[0]
    with PILImage.open(src) as img:
        rgb = np.asarray(img.convert("RGB"))
    big = PILImage.fromarray(rgb).resize((200, 200), PILImage.Resampling.BICUBIC)
    expected = np.asarray(big.resize((128, 128), PILImage.Resampling.LANCZOS))
    # lossless: the two runs see exactly these pixels; a subfolder: folders are searched recursively
    for folder, image in ((tmp_path / "big", big), (tmp_path / "ref" / "sub", PILImage.fromarray(expected))):
        folder.mkdir(parents=True)
        image.save(folder / "g.png")
    model = model_of(trained_sim_sdss)
    refused = cli("embed", model, tmp_path / "big", "-o", tmp_path / "refused.parquet", cwd=tmp_path)
    assert refused.returncode == 2 and "no usable image" in refused.stderr and "--resize resamples" in refused.stderr
    assert "size 200x200, expected 128x128" in pd.read_csv(tmp_path / "refused.rejected.csv")["reason"][0]
    for name, extra in (("big", ["--resize"]), ("ref", [])):
        proc = cli("embed", model, tmp_path / name, "-o", tmp_path / f"{name}.parquet", *extra, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
    np.testing.assert_allclose(read_vectors(tmp_path / "big.parquet").projection,
                               read_vectors(tmp_path / "ref.parquet").projection, atol=1e-6)


def test_catalogue_without_its_id_column_exits_2_naming_it(trained_sim_sdss, tmp_path):
    pd.DataFrame({"name": ["a"], "path": ["a.jpg"]}).to_csv(tmp_path / "cat.csv", index=False)
    proc = cli("embed", model_of(trained_sim_sdss), tmp_path / "cat.csv", "-o", tmp_path / "o.parquet", cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no id column 'id'" in lines[0] and str(tmp_path / "cat.csv") in lines[0]
    assert not (tmp_path / "o.parquet").exists()


def test_ra_dec_cutouts_come_from_the_survey_service(trained_sim_sdss, tmp_path):
    """Positions are fetched as SkyServer getjpeg cutouts (here: the loopback mirror serving the
    simulated survey's own JPEGs by position), so they embed as the embed stage embedded them."""
    files = sorted(images_of(trained_sim_sdss).glob("*.jpg"))[:3]
    ra, dec = 150.0 + 0.01 * np.arange(4), np.full(4, 2.5)
    served = {(f"{a:.6f}", f"{d:.6f}"): f.read_bytes() for a, d, f in zip(ra, dec, files)}

    def draw(qra: str, qdec: str, width: int, height: int) -> bytes:
        return served.get((qra, qdec), b"<html><body>no object here</body></html>")

    params = yaml.safe_load((trained_sim_sdss.path / "params.yaml").read_text())
    params["survey"]["sdss"]["source"]["images"]["fetch"]["http"] = fast_http()
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    ids = [f.stem for f in files] + ["empty_sky"]
    pd.DataFrame({"id": ids, "ra": ra, "dec": dec}).to_csv(tmp_path / "cat.csv", index=False)
    out = tmp_path / "out.parquet"
    with Mirror() as mirror:
        mirror.serve(cutout_path(RELEASE), cutout_handler(draw, "width", "height"))
        # the model's survey (sim_sdss) is rendered, not fetched: it imitates SDSS's cutouts
        unset = cli("embed", model_of(trained_sim_sdss), tmp_path / "cat.csv", "-o", out, cwd=tmp_path)
        proc = cli("embed", model_of(trained_sim_sdss), tmp_path / "cat.csv", "-o", out, "--cutout-survey", "sdss",
                   "--cutout-url", mirror.url, cwd=tmp_path)
        queries = [r.query for r in mirror.requests(cutout_path(RELEASE))]
    assert unset.returncode == 2 and "survey.sim_sdss.source.kind is 'sim'" in unset.stderr
    assert proc.returncode == 0, proc.stderr
    assert_same_vectors(out, trained_sim_sdss, ids[:3])
    assert {(q["scale"], q["width"], q["height"]) for q in queries} == {("0.2", "128", "128")}
    rejected = pd.read_csv(tmp_path / "out.rejected.csv")
    assert list(rejected["id"]) == ["empty_sky"] and "HTML page" in rejected["reason"][0]
    assert all((tmp_path / "out.cutouts" / f"{i}.jpg").is_file() for i in ids[:3])
