"""Rendered cutouts: survey geometry, determinism per galaxy, atomic writes and resumable runs."""
from __future__ import annotations

import numpy as np
import pandas as pd
from PIL import Image

from pipeline.surveys.base import IMAGES_DIR
from pipeline.surveys.sim import source as source_module
from pipeline.surveys.sim.source import TEMP_MARKER
from tests.surveys.sim.conftest import make_source, selected_rows

GEOMETRY = {"sim_gz2": (424, "JPEG"), "sim_sdss": (128, "JPEG"), "sim_decals": (424, "PNG")}


def _catalogue(tmp_path, name, **overrides):
    source = make_source(name, n_galaxies=30, **overrides)
    catalogue = source.fetch_catalogue(tmp_path / "catalogue")
    return source, catalogue


def test_images_decode_at_the_survey_geometry(tmp_path, survey_name):
    source, catalogue = _catalogue(tmp_path, survey_name, n_workers=1)
    manifest = source.fetch_images(selected_rows(source, catalogue, 2), tmp_path / "catalogue", tmp_path / "out")
    assert (manifest["status"] == "ok").all()
    size, file_format = GEOMETRY[survey_name]
    for galaxy_id in manifest["id"]:
        with Image.open(tmp_path / "out" / IMAGES_DIR / f"{galaxy_id}{source.image_suffix}") as image:
            assert (image.format, image.mode, image.size) == (file_format, "RGB", (size, size))
            pixels = np.asarray(image)
        centre = pixels[size // 2 - 4:size // 2 + 4, size // 2 - 4:size // 2 + 4].mean()
        assert centre > pixels.mean()  # the galaxy sits at the centre, brighter than the sky


def test_image_depends_only_on_seed_survey_and_id(tmp_path):
    source, catalogue = _catalogue(tmp_path, "sim_gz2", image__size_px=96, image__max_render_px=48)
    rows = selected_rows(source, catalogue, 4)
    source.fetch_images(rows, tmp_path / "catalogue", tmp_path / "pool")  # two workers, all four
    alone = make_source("sim_gz2", n_galaxies=30, n_workers=1, image__size_px=96, image__max_render_px=48)
    alone.fetch_images(rows.iloc[[3, 1]], tmp_path / "catalogue", tmp_path / "alone")  # a subset, reordered
    def image(run: str, galaxy_id: str) -> bytes:
        return (tmp_path / run / IMAGES_DIR / f"{galaxy_id}{source.image_suffix}").read_bytes()

    for galaxy_id in rows["id"].iloc[[1, 3]]:
        assert image("pool", galaxy_id) == image("alone", galaxy_id)
    other_seed = make_source("sim_gz2", seed=99, n_galaxies=30, n_workers=1, image__size_px=96, image__max_render_px=48)
    other_seed.fetch_images(rows.iloc[[1]], tmp_path / "catalogue", tmp_path / "other")
    assert image("other", rows["id"].iloc[1]) != image("alone", rows["id"].iloc[1])


def test_resume_skips_complete_files_and_clears_leftovers(tmp_path):
    source, catalogue = _catalogue(tmp_path, "sim_sdss", n_workers=1)
    rows = selected_rows(source, catalogue, 4)
    images = tmp_path / "out" / IMAGES_DIR
    source.fetch_images(rows.head(2), tmp_path / "catalogue", tmp_path / "out")
    before = {p.name: p.stat().st_mtime_ns for p in images.iterdir()}
    (images / f"{rows['id'].iloc[2]}{source.image_suffix}{TEMP_MARKER}12345").write_bytes(b"\xff\xd8 truncated")
    manifest = source.fetch_images(rows, tmp_path / "catalogue", tmp_path / "out")
    assert (manifest["status"] == "ok").all() and manifest["id"].tolist() == rows["id"].tolist()
    assert {p.name: p.stat().st_mtime_ns for p in images.iterdir() if p.name in before} == before
    assert sorted(p.name for p in images.iterdir()) == sorted(f"{i}{source.image_suffix}" for i in rows["id"])


def test_a_crash_mid_write_leaves_no_file_and_is_reported(tmp_path, monkeypatch):
    source, catalogue = _catalogue(tmp_path, "sim_sdss", n_workers=1)
    rows = selected_rows(source, catalogue, 3)
    real_encode = source_module.encode
    calls = []

    def crash_on_second(rgb, image):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        return real_encode(rgb, image)

    monkeypatch.setattr(source_module, "encode", crash_on_second)
    manifest = source.fetch_images(rows, tmp_path / "catalogue", tmp_path / "out").set_index("id")
    failed = rows["id"].iloc[1]
    assert manifest.loc[failed, "status"] == "failed" and "disk full" in manifest.loc[failed, "reason"]
    names = sorted(p.name for p in (tmp_path / "out" / IMAGES_DIR).iterdir())
    assert names == sorted(f"{i}{source.image_suffix}" for i in rows["id"] if i != failed)


def test_unknown_id_is_reported_not_raised(tmp_path):
    source, catalogue = _catalogue(tmp_path, "sim_sdss", n_workers=1)
    rows = pd.DataFrame({"id": ["12345"], "ra": [0.0], "dec": [0.0], "label": ["spiral"]})
    manifest = source.fetch_images(rows, tmp_path / "catalogue", tmp_path / "out")
    assert manifest[["id", "status"]].to_dict("records") == [{"id": "12345", "status": "failed"}]
    assert "truth" in manifest["reason"][0]


def _median_red_over_blue(tmp_path, kind: str) -> float:
    source = make_source("sim_sdss", n_galaxies=10, n_workers=1, kind_mix={kind: 1.0})
    catalogue = source.fetch_catalogue(tmp_path / kind)
    source.fetch_images(selected_rows(source, catalogue, 10), tmp_path / kind, tmp_path / f"{kind}_out")
    ratios = []
    for path in (tmp_path / f"{kind}_out" / IMAGES_DIR).iterdir():
        light = np.asarray(Image.open(path), dtype=float)[32:96, 32:96].reshape(-1, 3).sum(axis=0)
        ratios.append(light[0] / light[2])  # red (i band) over blue (g band)
    return float(np.median(ratios))


def test_ellipticals_are_redder_than_spirals(tmp_path):
    """Bulge light is red and disk light blue: a cue volunteers (and a CNN) can use."""
    assert _median_red_over_blue(tmp_path, "elliptical") > 1.2 * _median_red_over_blue(tmp_path, "spiral")


def test_image_identity_ignores_settings_that_change_no_image():
    base = make_source("sim_gz2").image_identity()
    assert make_source("sim_gz2", n_workers=7, votes__difficulty=2.0).image_identity() == base
    assert make_source("sim_gz2", instrument__psf_moffat_beta=4.0).image_identity() != base
    assert make_source("sim_gz2", seed=1).image_identity() != base
