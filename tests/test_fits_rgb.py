"""FITS cutouts to RGB (pipeline/fits_rgb.py): the survey's Lupton stretch, orientation, errors."""
from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from pipeline.colour import Colour
from pipeline.fits_rgb import FitsInputError, lupton_rgb, read_bands, read_fits_rgb
from pipeline.surveys.sim.rgb import asinh_composite
from tests.surveys.sim.conftest import make_source

SDSS = Colour(bands=("i", "r", "g"), band_weights=(1.0, 1.1, 1.6), asinh_q=8.0, asinh_stretch_sb=20.75)
SCALE = 0.4  # arcsec per pixel
SIZE = 16


def _wcs_header(scale: float = SCALE) -> fits.Header:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.0, 2.0]
    wcs.wcs.crpix = [SIZE / 2, SIZE / 2]
    wcs.wcs.cd = np.diag([-scale / 3600, scale / 3600])
    return wcs.to_header()


def _cube(path, planes: np.ndarray, bands=("i", "r", "g"), header: fits.Header | None = None):
    """A Legacy-Survey-style cutout: one (bands, y, x) HDU with BAND0.. keys."""
    header = _wcs_header() if header is None else header
    for k, band in enumerate(bands):
        header[f"BAND{k}"] = band
    fits.PrimaryHDU(planes.astype(np.float32), header=header).writeto(path)
    return path


def _sky(value: float = 0.0) -> np.ndarray:
    return np.full((3, SIZE, SIZE), value)


@pytest.mark.parametrize("survey", ["sim_gz2", "sim_decals"])
def test_the_stretch_is_the_simulators_composite(survey):
    """astropy's LuptonAsinhStretch with the converted Q and stretch gives the simulator's own
    Lupton composite (an independent implementation) to the rounding of the last level."""
    image = make_source(survey).cfg.image
    colour = Colour(bands=("a", "b", "c"), band_weights=image.band_weights, asinh_q=image.asinh_q,
                    asinh_stretch_sb=image.asinh_stretch_sb)
    rng = np.random.default_rng(1)
    # sky noise around zero up to saturated cores: every branch of the composite
    surface = rng.normal(size=(3, 64, 64)) * 0.02 + rng.lognormal(-3, 2.5, size=(1, 64, 64))
    ours, oracle = lupton_rgb(surface, colour).astype(int), asinh_composite(surface, image).astype(int)
    assert np.abs(ours - oracle).max() <= 1
    assert (ours == oracle).mean() > 0.99
    assert 0 < (oracle == 255).mean() and (oracle == 0).mean() > 0  # both ends were exercised


def test_north_is_up_and_east_left(tmp_path):
    """A light in the first stored row (FITS: the bottom, south) and first column (east, with RA
    falling along x) comes out in the bottom-left corner."""
    planes = _sky()
    planes[:, 0, 0] = 50.0
    rgb = read_fits_rgb(_cube(tmp_path / "corner.fits", planes), SDSS)
    assert rgb[-1, 0].min() > 100
    rgb[-1, 0] = 0
    assert rgb.max() == 0  # nothing else lit


def test_one_hdu_per_band_reads_as_the_cube(tmp_path):
    rng = np.random.default_rng(2)
    planes = rng.lognormal(-2, 1, size=(3, SIZE, SIZE))
    cube = read_fits_rgb(_cube(tmp_path / "cube.fits", planes), SDSS)
    hdus = [fits.PrimaryHDU()]
    for band, plane in zip(("g", "r", "i"), planes[::-1]):  # stored in another order than shown
        header = _wcs_header()
        header["FILTER"] = band
        hdus.append(fits.ImageHDU(plane.astype(np.float32), header=header))
    fits.HDUList(hdus).writeto(tmp_path / "split.fits")
    assert np.array_equal(read_fits_rgb(tmp_path / "split.fits", SDSS.as_dict()), cube)


def test_flux_becomes_surface_brightness_with_the_pixel_scale(tmp_path):
    """The same sky seen at twice the pixel scale holds 4x the flux per pixel: same colours."""
    rng = np.random.default_rng(3)
    surface = rng.lognormal(-1, 1, size=(3, SIZE, SIZE))
    fine = read_fits_rgb(_cube(tmp_path / "fine.fits", surface * SCALE ** 2), SDSS)
    coarse = read_fits_rgb(_cube(tmp_path / "coarse.fits", surface * (2 * SCALE) ** 2,
                                 header=_wcs_header(2 * SCALE)), SDSS)
    assert np.abs(fine.astype(int) - coarse.astype(int)).max() <= 1
    header = fits.Header({"PIXSCALE": 2 * SCALE})  # no WCS: the Legacy Survey's PIXSCALE key
    by_key = read_fits_rgb(_cube(tmp_path / "key.fits", surface * (2 * SCALE) ** 2, header=header), SDSS)
    assert np.array_equal(by_key, coarse)


def test_masked_pixels_count_as_no_flux(tmp_path):
    planes = _sky(0.05)
    planes[:, 3, 4] = np.nan
    path = _cube(tmp_path / "masked.fits", planes)
    flux, _ = read_bands(path, SDSS.bands)
    assert np.isfinite(flux).all() and (flux[:, SIZE - 1 - 3, 4] == 0).all()  # row flipped: north up
    rgb = read_fits_rgb(path, SDSS)
    assert rgb[SIZE - 1 - 3, 4].max() == 0 and rgb[0, 0].max() > 0


def _error(path, colour=SDSS) -> str:
    with pytest.raises(FitsInputError) as info:
        read_fits_rgb(path, colour)
    message = str(info.value)
    assert str(path) in message  # every error names the file
    return message


def test_a_file_that_is_not_fits_is_refused(tmp_path):
    path = tmp_path / "photo.fits"
    path.write_bytes(b"\xff\xd8\xff\xe0 a JPEG really")
    assert "not a readable FITS file" in _error(path)


def test_a_truncated_file_is_refused(tmp_path):
    whole = _cube(tmp_path / "whole.fits", _sky(0.1)).read_bytes()
    (tmp_path / "cut.fits").write_bytes(whole[:len(whole) // 2])  # the header survives, the data not
    assert "truncated or corrupt" in _error(tmp_path / "cut.fits")


def test_a_file_without_an_image_is_refused(tmp_path):
    table = fits.BinTableHDU.from_columns([fits.Column(name="flux", format="E", array=np.ones(3))])
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(tmp_path / "table.fits")
    assert "no image HDU" in _error(tmp_path / "table.fits")


def test_a_band_the_mapping_needs_must_be_there(tmp_path):
    path = _cube(tmp_path / "grz.fits", _sky(0.1), bands=("g", "r", "z"))
    assert "no band 'i'" in _error(path) and "'z'" in _error(path)
    unnamed = tmp_path / "unnamed.fits"
    fits.PrimaryHDU(_sky(0.1).astype(np.float32), header=_wcs_header()).writeto(unnamed)
    assert "no named bands" in _error(unnamed)


def test_a_fully_masked_band_is_refused(tmp_path):
    planes = _sky(0.1)
    planes[1] = np.nan
    assert "band 'r' is NaN everywhere" in _error(_cube(tmp_path / "nan.fits", planes))


def test_a_file_without_a_pixel_scale_is_refused(tmp_path):
    assert "no pixel scale" in _error(_cube(tmp_path / "noscale.fits", _sky(0.1), header=fits.Header()))


def test_bands_of_different_shapes_are_refused(tmp_path):
    hdus = [fits.PrimaryHDU()]
    for band, size in (("i", SIZE), ("r", SIZE), ("g", SIZE + 1)):
        header = _wcs_header()
        header["FILTER"] = band
        hdus.append(fits.ImageHDU(np.ones((size, size), np.float32), header=header))
    fits.HDUList(hdus).writeto(tmp_path / "shapes.fits")
    assert "differ in shape" in _error(tmp_path / "shapes.fits")
