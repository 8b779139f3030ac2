"""Quick galaxy-like drawings for the mirror's cutouts and archives.

The simulator (``pipeline.surveys.sim``) renders physically but takes seconds per survey; a
mirror serving hundreds of requests needs milliseconds.  These are smooth light profiles whose
shape follows the class (round or elongated blob, thin disk, two-armed spiral) on a noisy sky,
enough for the pipeline to learn something from a tiny training run.
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

SHAPES = ("round", "elliptical", "edge_on", "spiral")


DRAW_PX = 96  # drawn at most this many pixels across, then resized: milliseconds per image


def galaxy_pixels(label: str, width: int, height: int, seed: int) -> np.ndarray:
    """(height, width, 3) uint8 image of a galaxy of class ``label`` (others: a faint blob)."""
    shrink = max(1.0, max(width, height) / DRAW_PX)
    small = _draw(label, round(width / shrink), round(height / shrink), seed)
    return np.asarray(Image.fromarray(small).resize((width, height), Image.Resampling.BILINEAR))


def _draw(label: str, width: int, height: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scale = min(width, height) / 8
    y, x = np.mgrid[0:height, 0:width]
    y, x = (y - (height - 1) / 2) / scale, (x - (width - 1) / 2) / scale
    angle = rng.uniform(0, np.pi)
    u = x * np.cos(angle) + y * np.sin(angle)
    v = -x * np.sin(angle) + y * np.cos(angle)
    axis_ratio = {"round": 0.95, "elliptical": 0.6, "edge_on": 0.15, "spiral": 0.85}.get(label, 0.8)
    r = np.hypot(u, v / axis_ratio)
    light = np.exp(-r ** 1.2)
    if label == "spiral":
        theta = np.arctan2(v, u)
        arms = 0.5 * (1 + np.cos(2 * theta - 3.0 * np.log(r + 1e-3)))
        light = 0.6 * light + 0.5 * arms ** 4 * np.exp(-r / 2.5)
    colour = np.array([1.0, 0.85, 0.7]) if label in ("round", "elliptical") else np.array([0.75, 0.85, 1.0])
    sky = rng.normal(0.04, 0.02, size=(height, width, 3))
    pixels = np.clip(light[..., None] * colour + sky, 0, 1)
    return (pixels * 255).astype(np.uint8)


def encode(pixels: np.ndarray, fmt: str) -> bytes:
    """JPEG (quality 90, as survey cutouts) or PNG bytes (fast compression)."""
    buffer = io.BytesIO()
    image = Image.fromarray(pixels, mode="RGB")
    image.save(buffer, format=fmt, **({"quality": 90} if fmt == "JPEG" else {"compress_level": 1}))
    return buffer.getvalue()


def galaxy_image(label: str, size: int, seed: int, fmt: str = "JPEG", height: int | None = None) -> bytes:
    """A ``size`` x ``size`` (or ``size`` wide, ``height`` high) image file."""
    return encode(galaxy_pixels(label, size, height or size, seed), fmt)
