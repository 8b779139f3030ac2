"""FITS cutouts of the first selected galaxies (pipeline/surveys/sim/fits.py): the bands the image
was made from, laid out as a cutout service serves them, shown as the image by pipeline/fits_rgb.py."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales
from PIL import Image

from pipeline.colour import survey_colour
from pipeline.config import ConfigError
from pipeline.fits_rgb import read_fits_rgb
from pipeline.surveys.base import IMAGES_DIR
from pipeline.surveys.sim.canvas import frame_for
from pipeline.surveys.sim.fits import FITS_DIR
from pipeline.surveys.sim.render import render_bands
from pipeline.surveys.sim.seeding import keyed_rng
from tests.surveys.sim.conftest import SEED, make_source, selected_rows, source_cfg

MAX_MEDIAN_LEVELS = 5  # FITS -> RGB against the served image: JPEG noise and resampling order
MIN_CORRELATION = 0.93  # of brightness; 0.94-0.999 here, 0.4-0.96 with the image upside down


def _fetch(tmp_path, name, run, rows=4, **overrides):
    source = make_source(name, n_galaxies=30, n_workers=1, **overrides)
    if not (tmp_path / "catalogue").exists():
        source.fetch_catalogue(tmp_path / "catalogue")
    catalogue = pd.read_parquet(tmp_path / "catalogue" / "catalogue.parquet")
    selected = selected_rows(source, catalogue, rows)
    manifest = source.fetch_images(selected, tmp_path / "catalogue", tmp_path / run)
    assert (manifest["status"] == "ok").all(), manifest
    return source, selected


def test_the_fits_file_shows_as_the_surveys_image(tmp_path, survey_name):
    source, selected = _fetch(tmp_path, survey_name, "out", fits_examples=2)
    first = sorted(selected["id"])[:2]
    assert sorted(p.stem for p in (tmp_path / "out" / FITS_DIR).iterdir()) == first
    colour = survey_colour(survey_name, source_cfg(survey_name))
    for galaxy_id in first:
        shown = read_fits_rgb(tmp_path / "out" / FITS_DIR / f"{galaxy_id}.fits", colour).astype(int)
        served = np.asarray(Image.open(tmp_path / "out" / IMAGES_DIR / f"{galaxy_id}{source.image_suffix}")
                            .convert("RGB")).astype(int)
        assert np.median(np.abs(shown - served)) <= MAX_MEDIAN_LEVELS
        # the light where the image has it (the median alone is mostly sky noise)
        assert np.corrcoef(shown.sum(axis=2).ravel(), served.sum(axis=2).ravel())[0, 1] >= MIN_CORRELATION


def test_writing_fits_changes_no_image(tmp_path):
    """The FITS files come from the same draws: the images stay byte-identical."""
    source, selected = _fetch(tmp_path, "sim_sdss", "without", fits_examples=0)
    _fetch(tmp_path, "sim_sdss", "with", fits_examples=4)
    assert not any((tmp_path / "without" / FITS_DIR).iterdir())
    for galaxy_id in selected["id"]:
        name = f"{galaxy_id}{source.image_suffix}"
        assert (tmp_path / "with" / IMAGES_DIR / name).read_bytes() == (tmp_path / "without" / IMAGES_DIR / name).read_bytes()


def test_the_file_is_laid_out_as_a_cutout_service_serves_it(tmp_path):
    """(bands, y, x) nanomaggies per pixel, BAND keys, a WCS at the cutout's pixel scale centred on
    the galaxy, and the render's total flux (resampled, not lost or gained)."""
    source, selected = _fetch(tmp_path, "sim_gz2", "out", rows=1, fits_examples=1)
    galaxy_id = selected["id"].iloc[0]
    truth = pd.read_parquet(tmp_path / "catalogue" / "truth.parquet").set_index("id").loc[galaxy_id]
    with fits.open(tmp_path / "out" / FITS_DIR / f"{galaxy_id}.fits") as hdus:
        header, flux = hdus[0].header, hdus[0].data.astype(float)
    size = source.cfg.image.size_px
    assert flux.shape == (3, size, size)
    assert [header[f"BAND{k}"] for k in range(3)] == list(source.cfg.instrument.rgb_bands)
    assert header["BUNIT"] == "nanomaggy"
    wcs = WCS(header, naxis=2)
    scale = float(truth["pixel_scale"])
    assert np.allclose(proj_plane_pixel_scales(wcs) * 3600, scale) and header["PIXSCALE"] == pytest.approx(scale)
    centre = wcs.pixel_to_world_values((size - 1) / 2, (size - 1) / 2)
    assert np.allclose(centre, (selected["ra"].iloc[0], selected["dec"].iloc[0]))
    frame = frame_for(scale, source.cfg)
    bands = render_bands(truth.to_dict(), source.cfg, keyed_rng(SEED, "sim_gz2", "render", galaxy_id))
    render_flux = bands.sum(axis=(1, 2)) * frame.scale ** 2
    assert np.allclose(flux.sum(axis=(1, 2)), render_flux, rtol=0.01)


def test_fits_files_follow_the_setting_without_redrawing_images(tmp_path):
    source, selected = _fetch(tmp_path, "sim_sdss", "out", fits_examples=0)
    images = tmp_path / "out" / IMAGES_DIR
    before = {p.name: p.stat().st_mtime_ns for p in images.iterdir()}
    _fetch(tmp_path, "sim_sdss", "out", fits_examples=2)  # images there: only their bands are drawn again
    assert {p.name: p.stat().st_mtime_ns for p in images.iterdir()} == before
    _fetch(tmp_path, "sim_sdss", "fresh", fits_examples=2)
    first = sorted(selected["id"])[:2]
    for galaxy_id in first:
        name = f"{galaxy_id}.fits"
        assert (tmp_path / "out" / FITS_DIR / name).read_bytes() == (tmp_path / "fresh" / FITS_DIR / name).read_bytes()
    _fetch(tmp_path, "sim_sdss", "out", fits_examples=1)
    assert [p.stem for p in (tmp_path / "out" / FITS_DIR).iterdir()] == first[:1]


def test_the_setting_changes_no_image_identity_and_is_checked():
    base = make_source("sim_sdss").image_identity()
    assert make_source("sim_sdss", fits_examples=0).image_identity() == base  # the images stay
    with pytest.raises(ConfigError, match=r"^survey\.sim_sdss\.source\.fits_examples: -1 must be >= 0"):
        make_source("sim_sdss", fits_examples=-1)
