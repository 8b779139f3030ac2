"""FITS cutouts to RGB with the survey's own colour mapping (issue 12).

A model trained on a survey's JPEG cutouts should see a FITS cutout as the survey would have
shown it: the three bands of the survey's colour mapping (``pipeline/colour.py``), in surface
brightness, through its Lupton et al. (2004) asinh stretch.

Accepted layouts, as the cutout services serve them (fluxes in nanomaggies per pixel, the SDSS
and Legacy Survey unit):

* one image HDU of shape (bands, y, x) whose header names the planes ``BAND0``, ``BAND1``, ...
  (the Legacy Survey's ``fits-cutout``);
* one 2-D image HDU per band, named by its ``FILTER`` or ``BAND`` keyword (SDSS frames, most
  other archives), all of one shape.

The pixel scale comes from the celestial WCS (the square root of the pixel's area) or, without
one, from ``PIXSCALE`` (arcsec per pixel).  Rows are flipped on reading: FITS stores the first
row at the bottom, so with the usual north-up WCS the image comes out north up, as the JPEGs are.
NaN pixels (masked) count as zero flux.
"""
from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.visualization import LuptonAsinhStretch, make_lupton_rgb
from astropy.wcs import WCS, FITSFixedWarning
from astropy.wcs.utils import proj_plane_pixel_area

from pipeline.colour import Colour
from pipeline.errors import InputError

BAND_KEYS = ("FILTER", "BAND")  # per-HDU band name keywords, in order of preference
MAX_LEVEL = 255


class FitsInputError(InputError):
    """A FITS file that cannot be shown with the survey's colour mapping; the message names it."""


def read_fits_rgb(path: Path, colour: dict | Colour) -> np.ndarray:
    """The (H, W, 3) uint8 RGB image of FITS cutout ``path`` under the colour mapping ``colour``
    (a :class:`Colour` or its ``as_dict()``), north up."""
    path = Path(path)
    colour = colour if isinstance(colour, Colour) else Colour.from_dict(colour)
    flux, scale = read_bands(path, colour.bands)
    return lupton_rgb(flux / scale ** 2, colour)


def read_bands(path: Path, bands: tuple[str, ...]) -> tuple[np.ndarray, float]:
    """((len(bands), H, W) float64 nanomaggies per pixel, top row first; pixel scale in arcsec)."""
    try:
        hdus = fits.open(path, memmap=False)
    except (OSError, ValueError) as exc:
        raise FitsInputError(f"{path}: not a readable FITS file ({exc})") from exc
    with hdus:
        try:  # astropy reads the data when it is first touched: a truncated file fails here
            planes, headers = _band_planes(path, hdus)
        except (OSError, ValueError, TypeError) as exc:
            raise FitsInputError(f"{path}: truncated or corrupt FITS data ({exc})") from exc
        missing = [band for band in bands if band not in planes]
        if missing:
            raise FitsInputError(f"{path}: no band {missing[0]!r}: the colour mapping shows {list(bands)}, "
                                 f"the file has {sorted(planes) or 'no named bands'}")
        shapes = {planes[band].shape for band in bands}
        if len(shapes) > 1:
            raise FitsInputError(f"{path}: bands {list(bands)} differ in shape {sorted(shapes)}")
        flux = np.stack([np.asarray(planes[band], dtype=np.float64) for band in bands])
        scale = _pixel_scale(path, headers[bands[0]])
    for band, plane in zip(bands, flux):
        if np.isnan(plane).all():
            raise FitsInputError(f"{path}: band {band!r} is NaN everywhere (fully masked)")
    # FITS rows run south to north: the first stored row is the bottom of the image
    return np.nan_to_num(flux, nan=0.0)[:, ::-1, :], scale


def lupton_rgb(surface: np.ndarray, colour: Colour) -> np.ndarray:
    """(3, H, W) surface brightness (nmgy/arcsec^2; red, green, blue) -> (H, W, 3) uint8.

    Lupton et al. (2004): each weighted band times asinh(Q I / stretch) / (Q I), I the mean of the
    weighted bands; a pixel whose brightest channel would pass 1 is scaled down as a whole.
    astropy's ``LuptonAsinhStretch`` writes the same curve with the slope normalised at 0.1
    stretch, asinh(Q' x / s') 0.1 / asinh(0.1 Q'): with Q' = 10 sinh(Q / 10) and
    s' = stretch Q' / Q it is Lupton's asinh(Q x / stretch) / Q exactly.
    """
    weighted = surface * np.asarray(colour.band_weights, dtype=np.float64)[:, None, None]
    q_astropy = 10 * math.sinh(colour.asinh_q / 10)
    curve = LuptonAsinhStretch(stretch=colour.stretch_nmgy * q_astropy / colour.asinh_q, Q=q_astropy)
    with np.errstate(invalid="ignore", divide="ignore"):  # astropy divides 0 / 0 where I is 0, then masks it
        rgb = make_lupton_rgb(*weighted, stretch_object=curve, output_dtype=np.float64)
    return np.round(rgb * MAX_LEVEL).astype(np.uint8)


def _band_planes(path: Path, hdus: fits.HDUList) -> tuple[dict[str, np.ndarray], dict[str, fits.Header]]:
    """Band name -> 2-D plane (and the header it came from), from either accepted layout."""
    images = [hdu for hdu in hdus if hdu.is_image and hdu.data is not None and hdu.data.ndim >= 2]
    if not images:
        raise FitsInputError(f"{path}: no image HDU (the file holds {len(hdus)} HDU(s), none with 2-D or 3-D data)")
    planes: dict[str, np.ndarray] = {}
    headers: dict[str, fits.Header] = {}
    for hdu in images:
        header = hdu.header
        if hdu.data.ndim == 3:
            for k, plane in enumerate(hdu.data):
                band = header.get(f"BAND{k}")
                if band is not None:
                    planes[str(band).strip()], headers[str(band).strip()] = plane, header
        elif hdu.data.ndim == 2:
            band = next((header[key] for key in BAND_KEYS if key in header), None)
            if band is not None:
                planes[str(band).strip()], headers[str(band).strip()] = hdu.data, header
    return planes, headers


def _pixel_scale(path: Path, header: fits.Header) -> float:
    """Arcsec per pixel from the header's celestial WCS, else from ``PIXSCALE``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)  # astropy's notes on fixing old headers
            wcs = WCS(header, naxis=2)
    except Exception:  # noqa: BLE001 - astropy raises many kinds; a broken WCS leaves PIXSCALE
        wcs = None
    if wcs is not None and wcs.has_celestial:
        scale = math.sqrt(proj_plane_pixel_area(wcs.celestial)) * 3600
        if math.isfinite(scale) and scale > 0:
            return scale
    if "PIXSCALE" in header and float(header["PIXSCALE"]) > 0:
        return float(header["PIXSCALE"])
    raise FitsInputError(f"{path}: no pixel scale (neither a celestial WCS nor a PIXSCALE key): "
                         "the colour mapping needs surface brightness")
