"""Decode survey images and bring them to the network's pixel scale (paper Sect. 2.3, Fig. 2).

GZ2/DECaLS: 424x424 -> centre crop 224 -> (a 180 window, random or centred) -> 84.
SDSS: 128x128 -> 84.  We store the centre crop already scaled by ``size / crop`` so one array
serves training (random ``size`` window) and evaluation (centred window).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from pipeline.params import Image


class CorruptImage(ValueError):
    """An image file that does not decode, or decodes to the wrong size."""


def load_rgb(path: Path, geometry: Image) -> np.ndarray:
    """Decode ``path`` to RGB and check its size against ``geometry.native_size``."""
    try:
        with PILImage.open(path) as img:
            img.load()  # force a full decode: a truncated JPEG fails here, not later
            rgb = img.convert("RGB")
    except FileNotFoundError:
        raise CorruptImage(f"{path}: file missing") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise CorruptImage(f"{path}: does not decode as an image ({exc})") from None
    if rgb.size != (geometry.native_size, geometry.native_size):
        raise CorruptImage(f"{path}: size {rgb.size[0]}x{rgb.size[1]}, expected "
                           f"{geometry.native_size}x{geometry.native_size}")
    return np.asarray(rgb)


def to_stored(rgb: np.ndarray, geometry: Image) -> np.ndarray:
    """Centre-crop to ``geometry.centre_crop`` and resize to ``geometry.stored_size`` (uint8 HWC)."""
    h, w = rgb.shape[:2]
    c = geometry.centre_crop
    top, left = (h - c) // 2, (w - c) // 2
    crop = PILImage.fromarray(rgb[top:top + c, left:left + c])
    side = geometry.stored_size
    if side != c:
        # LANCZOS is antialiased: plain subsampling of 224 -> 105 would alias the sky noise.
        crop = crop.resize((side, side), PILImage.Resampling.LANCZOS)
    return np.asarray(crop, dtype=np.uint8)
