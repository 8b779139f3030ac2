"""statmorph measures (pipeline/morphology.py) against an independent oracle: single-Sersic galaxies
rendered by GalSim with the index and half-light radius we drew (issue 10, "Done when")."""
from __future__ import annotations

import dataclasses

import galsim
import numpy as np
import pytest
from PIL import Image as PILImage

from pipeline.morphology import CATASTROPHIC, COLUMNS, MEASURES, intensity, measure_band, measure_files
from pipeline.params import load_params

#: The repository's measurement params, at 64 px: the 128 px test images are block-averaged by 2,
#: so Reff must come back in native pixels.
CFG = dataclasses.replace(load_params().morphology, max_size_px=64, n_workers=1)
SIDE = 128
NOISE = 0.005        # sky noise, in units where the brightest pixel is 0.8
#: Median relative error allowed across the sample; measured on this seed: n 5 %, Reff 7 %.
TOLERANCE = 0.15


def sersic_image(n: float, r_half: float, q: float, beta_deg: float, rng: np.random.Generator) -> np.ndarray:
    """A GalSim single-Sersic galaxy, centred, peak 0.8, with Gaussian sky noise."""
    galaxy = galsim.Sersic(n=n, half_light_radius=r_half, flux=1.0).shear(q=q, beta=beta_deg * galsim.degrees)
    image = galaxy.drawImage(nx=SIDE, ny=SIDE, scale=1.0).array
    return image / image.max() * 0.8 + rng.normal(0.0, NOISE, image.shape)


def test_sersic_index_and_radius_match_the_simulated_galaxies():
    """24 galaxies, n in [1, 4], r_half 3-15 px, axis ratio 0.5-1: the median relative errors of n
    and Reff stay within :data:`TOLERANCE`.  GalSim's half_light_radius is the circularised one
    (its shear keeps the area); statmorph's sersic_rhalf is along the major axis: r_half / sqrt(q)."""
    rng = np.random.default_rng(20221103)
    truth, rows = [], []
    for i in range(24):
        n, r_half, q, beta = rng.uniform(1, 4), rng.uniform(3, 15), rng.uniform(0.5, 1), rng.uniform(0, 180)
        rows.append(measure_band(str(i), sersic_image(n, r_half, q, beta, rng), CFG))
        truth.append((n, r_half / np.sqrt(q)))
    assert all(r["error"] == "" for r in rows), [r["error"] for r in rows if r["error"]]
    n_true, reff_true = np.array(truth).T
    n_err = np.abs(np.array([r["n"] for r in rows]) / n_true - 1)
    reff_err = np.abs(np.array([r["Reff"] for r in rows]) / reff_true - 1)
    assert np.median(n_err) < TOLERANCE, n_err
    assert np.median(reff_err) < TOLERANCE, reff_err


def test_reff_and_sb0_are_per_native_pixel_whatever_the_measuring_size():
    """Reff in native pixels and SB0 in image units per native pixel, measured at full size and
    block-averaged by 2; SB0 against GalSim's own central surface brightness of the profile."""
    rng = np.random.default_rng(3)
    galaxy = galsim.Sersic(n=1.5, half_light_radius=10.0, flux=1.0)
    scale = 0.8 / galaxy.drawImage(nx=SIDE, ny=SIDE, scale=1.0).array.max()
    image = sersic_image(1.5, 10.0, 1.0, 0.0, rng)
    full = measure_band("g", image, dataclasses.replace(CFG, max_size_px=SIDE))
    half = measure_band("g", image, CFG)
    for row in (full, half):
        assert row["Reff"] == pytest.approx(10.0, rel=0.1)
        assert row["SB0"] == pytest.approx(scale * galaxy.xValue(0, 0), rel=0.1)


@pytest.mark.parametrize("image", [np.zeros((SIDE, SIDE)), np.random.default_rng(5).normal(0.1, 0.01, (SIDE, SIDE))],
                         ids=["blank", "noise"])
def test_an_image_without_a_galaxy_is_a_flagged_row(image):
    row = measure_band("empty", image, CFG)
    assert row["error"].startswith("no source") and row["flag"] == row["flag_sersic"] == CATASTROPHIC
    assert all(np.isnan(row[m]) for m in MEASURES)


def test_the_r_band_is_the_green_channel(tmp_path):
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 10, 200, 30
    PILImage.fromarray(rgb).save(tmp_path / "g.png")
    assert np.all(intensity(tmp_path / "g.png") == pytest.approx(200 / 255))


def test_files_are_measured_by_a_pool_in_order_and_a_bad_file_is_a_row(tmp_path):
    rng = np.random.default_rng(7)
    files = {}
    for i, n in enumerate((1.0, 3.0)):
        band = np.clip(sersic_image(n, 8.0, 0.8, 30.0, rng) + 0.02, 0, 1)
        PILImage.fromarray(np.repeat((band * 255).round().astype(np.uint8)[..., None], 3, axis=2)).save(
            tmp_path / f"{i}.png")
        files[f"galaxy{i}"] = tmp_path / f"{i}.png"
    (tmp_path / "broken.png").write_bytes(b"not an image")
    files = {"broken": tmp_path / "broken.png", **files}
    table = measure_files(files, dataclasses.replace(CFG, n_workers=2), "test")
    assert list(table.columns) == list(COLUMNS) and table["id"].tolist() == list(files)
    assert table.loc[0, "error"].startswith("unreadable image") and table.loc[0, "flag"] == CATASTROPHIC
    assert (table.loc[1:, "error"] == "").all()
    assert table.loc[1, "n"] < table.loc[2, "n"]  # the n = 1 galaxy before the n = 3 one


def test_a_galaxy_flagged_above_max_flag_is_a_failure_that_keeps_its_flags():
    """A galaxy larger than the frame (its sky is its own wings) is flag 2, "bad", for statmorph."""
    image = sersic_image(1.0, 25.0, 1.0, 0.0, np.random.default_rng(0))
    row = measure_band("big", image, CFG)
    assert CFG.max_flag == 1 and (row["flag"], row["flag_sersic"]) == (2, 0)
    assert row["error"] == "statmorph flag 2, flag_sersic 0 above morphology.max_flag 1"
    assert all(np.isnan(row[m]) for m in MEASURES)
    kept = measure_band("big", image, dataclasses.replace(CFG, max_flag=2))
    assert kept["error"] == "" and kept["flag"] == 2 and np.isfinite(kept["Reff"])
