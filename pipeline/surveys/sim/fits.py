"""FITS cutouts of a few simulated galaxies, as survey cutout services serve them (issue 12).

The images stage writes, beside the JPEG/PNG cutouts, ``fits/<id>.fits`` for the first
``source.fits_examples`` selected galaxies (ids sorted as strings): the same noisy bands the
image was composed from, so that FITS input (``pipeline/fits_rgb.py``) can be checked against
the survey's own images.  The file is laid out as the Legacy Survey's ``fits-cutout``: one
primary HDU of shape (bands, y, x) in nanomaggies per pixel, keys ``BAND0``.. naming the bands
(red, green, blue as ``instrument.rgb_bands``), a TAN WCS centred on the galaxy, north up and
east left, and ``PIXSCALE`` (arcsec per pixel).
"""
from __future__ import annotations

import io

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from PIL import Image

FITS_DIR = "fits"  # inside the images stage's output folder
FITS_SUFFIX = ".fits"
DEG_PER_ARCSEC = 1 / 3600


def cutout_bands(surface: np.ndarray, size_px: int, pixel_scale: float) -> np.ndarray:
    """(3, n, n) surface brightness (nmgy/arcsec^2, top row north) on the render grid -> (3, size,
    size) nanomaggies per cutout pixel of ``pixel_scale`` arcsec, top row north.

    The surface brightness is resampled, not the flux per pixel, with the kernel that resamples
    the JPEG composite (PIL's bicubic), then multiplied by the pixel's area: the total flux stays
    that of the render up to the interpolation's error (a uniform sky keeps its level exactly).
    """
    planes = []
    for plane in surface.astype(np.float32):
        if plane.shape != (size_px, size_px):
            plane = np.asarray(Image.fromarray(plane, mode="F").resize((size_px, size_px), Image.Resampling.BICUBIC))
        planes.append(plane)
    return np.stack(planes) * np.float32(pixel_scale ** 2)


def fits_bytes(flux: np.ndarray, bands: tuple[str, ...], pixel_scale: float, ra: float, dec: float) -> bytes:
    """The FITS file of (3, H, W) nanomaggies per pixel, top row north, centred on (ra, dec)."""
    _, height, width = flux.shape
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra, dec]
    wcs.wcs.crpix = [(width + 1) / 2, (height + 1) / 2]
    # x grows to the west (RA falls), y to the north: the sky as seen, north up and east left
    wcs.wcs.cd = np.diag([-pixel_scale * DEG_PER_ARCSEC, pixel_scale * DEG_PER_ARCSEC])
    header = wcs.to_header()
    header["BUNIT"] = ("nanomaggy", "flux per pixel; 1 nmgy is AB magnitude 22.5")
    header["PIXSCALE"] = (pixel_scale, "arcsec per pixel")
    for k, band in enumerate(bands):
        header[f"BAND{k}"] = (band, f"band of plane {k}")
    # FITS stores the first row at the bottom (south): flip the top-row-first arrays
    hdu = fits.PrimaryHDU(np.ascontiguousarray(flux[:, ::-1, :], dtype=np.float32), header=header)
    buffer = io.BytesIO()
    hdu.writeto(buffer)
    return buffer.getvalue()
