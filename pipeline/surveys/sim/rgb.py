"""Colour composite and encoding of the simulated cutouts.

SDSS (and so GZ2) cutouts are Lupton et al. (2004) asinh composites of the i, r, g frames; the
Legacy Survey viewer serving GZ DECaLS images uses an asinh stretch of z, r, g.  One composite,
parametrised per survey, stands for both.
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from pipeline.surveys.sim.config import ImageCfg
from pipeline.surveys.sim.profiles import flux_nmgy

FILE_SUFFIX = {"jpeg": ".jpg", "png": ".png"}
MAX_LEVEL = 255  # 8-bit channels


def asinh_composite(bands: np.ndarray, image: ImageCfg) -> np.ndarray:
    """(3, H, W) surface brightness (red, green, blue bands) -> (H, W, 3) uint8.

    Lupton et al. (2004): every band is scaled by asinh(Q I / stretch) / (Q I) with I the mean of
    the bands, which keeps the colour of bright pixels; a pixel whose brightest channel would
    saturate is scaled down as a whole, again keeping its colour.
    """
    scaled = bands * np.asarray(image.band_weights)[:, None, None]
    intensity = scaled.mean(axis=0)
    stretch = float(flux_nmgy(image.asinh_stretch_sb))
    compressed = np.arcsinh(image.asinh_q * intensity / stretch) / image.asinh_q
    gain = np.divide(compressed, intensity, out=np.zeros_like(intensity), where=intensity > 0)
    rgb = np.clip(scaled * gain, 0, None)
    peak = rgb.max(axis=0)
    rgb = np.where(peak > 1, rgb / np.where(peak > 1, peak, 1), rgb)
    return np.round(rgb * MAX_LEVEL).astype(np.uint8).transpose(1, 2, 0)


def jpeg_roundtrip(rgb: np.ndarray, quality: int) -> np.ndarray:
    """``rgb`` as stored in a JPEG of ``quality`` and decoded again (4:2:0 chroma, as PIL's default).

    JPEG averages chroma over 2x2 pixels and quantises it coarsely, so the pixel-scale colour
    noise of a mosaic stored this way is mostly gone from any cutout resampled from it.
    """
    buffer = io.BytesIO()
    Image.fromarray(rgb, mode="RGB").save(buffer, format="JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB"))


def encode(rgb: np.ndarray, image: ImageCfg) -> bytes:
    """The image file's bytes in the survey's format (JPEG or PNG)."""
    buffer = io.BytesIO()
    picture = Image.fromarray(rgb, mode="RGB")
    if image.format == "jpeg":
        picture.save(buffer, format="JPEG", quality=image.jpeg_quality)
    else:
        picture.save(buffer, format="PNG", compress_level=image.png_compress_level)
    return buffer.getvalue()
