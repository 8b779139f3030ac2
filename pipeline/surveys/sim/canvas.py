"""The render grid of one cutout and the band images drawn on it (GalSim helpers).

Components are drawn once as unit-flux images; each band adds them scaled by the component's
r-band flux and colour (m_band - m_r), so three bands cost one draw per component.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import galsim
import numpy as np

from pipeline.surveys.sim.config import NumericsCfg, SimSourceCfg
from pipeline.surveys.sim.profiles import magnitude_ratio


@dataclass(frozen=True)
class Frame:
    """The render grid: ``n`` pixels of ``scale`` arcsec across."""

    n: int
    scale: float

    @property
    def width_arcsec(self) -> float:
        return self.n * self.scale


def frame_for(pixel_scale: float, cfg: SimSourceCfg) -> Frame:
    """Render at the cutout's scale, but never finer than the detector nor beyond ``max_render_px``."""
    image = cfg.image
    width = image.size_px * pixel_scale
    n = min(image.size_px, image.max_render_px, math.ceil(width / cfg.instrument.native_scale_arcsec))
    return Frame(n=n, scale=width / n)


class BandImages:
    """Flux images (nmgy per render pixel) of the RGB bands, filled component by component."""

    def __init__(self, bands: tuple[str, ...], n: int):
        self.bands = bands
        self.flux = np.zeros((len(bands), n, n))

    def add(self, image: np.ndarray, flux_r: float, colour: Mapping[str, float],
            at: tuple[slice, slice] = (slice(None), slice(None))) -> None:
        """Add a unit-flux component image with r flux ``flux_r`` and colour m_band - m_r."""
        for k, band in enumerate(self.bands):
            self.flux[k][at] += image * (flux_r * magnitude_ratio(colour[band]))

    def paste(self, stamp: np.ndarray, ix: int, iy: int, flux_r: float, colour: Mapping[str, float]) -> None:
        """Add a unit-flux stamp centred on pixel (ix, iy); the part outside the frame is lost."""
        half = stamp.shape[0] // 2
        x0, y0 = ix - half, iy - half
        n = self.flux.shape[-1]
        cols = slice(max(x0, 0), min(x0 + stamp.shape[1], n))
        rows = slice(max(y0, 0), min(y0 + stamp.shape[0], n))
        if cols.start >= cols.stop or rows.start >= rows.stop:
            return
        cut = stamp[rows.start - y0:rows.stop - y0, cols.start - x0:cols.stop - x0]
        self.add(cut, flux_r, colour, at=(rows, cols))


def sersic(n: float, r50: float, numerics: NumericsCfg, gsparams: galsim.GSParams) -> galsim.Sersic:
    """A unit-flux Sersic profile, truncated so that its FFT stays small."""
    return galsim.Sersic(n=n, half_light_radius=r50, trunc=numerics.sersic_trunc_r50 * r50, gsparams=gsparams)
