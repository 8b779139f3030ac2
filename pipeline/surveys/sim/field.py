"""Unrelated background galaxies and foreground stars scattered over a cutout.

Their number is Poisson in the frame's area; each is drawn on a small stamp (stars share one
PSF stamp) and pasted at a uniform random position.
"""
from __future__ import annotations

import math

import galsim
import numpy as np

from pipeline.surveys.sim.canvas import BandImages, Frame, sersic
from pipeline.surveys.sim.config import PopulationCfg
from pipeline.surveys.sim.profiles import flux_nmgy

ARCSEC2_PER_ARCMIN2 = 3600.0


def add_field(bands: BandImages, frame: Frame, pop: PopulationCfg, psf: galsim.GSObject, psf_fwhm: float,
              rng: np.random.Generator, gsparams: galsim.GSParams) -> None:
    """Draw the frame's background galaxies and stars into ``bands``."""
    field = pop.field
    area = frame.width_arcsec ** 2 / ARCSEC2_PER_ARCMIN2
    bulge, disk = pop.colours.bulge, pop.colours.disk
    step = pop.numerics.sersic_n_step
    for _ in range(rng.poisson(field.galaxies_per_arcmin2 * area)):
        r50 = rng.uniform(*field.galaxy_r50_arcsec)
        n = float(np.round(rng.uniform(*field.galaxy_sersic_n) / step) * step)
        profile = sersic(n, r50, pop.numerics, gsparams).shear(q=rng.uniform(*field.galaxy_axis_ratio),
                                                                beta=rng.uniform(0, 180) * galsim.degrees)
        mix = rng.random()  # colours between a disk's and a bulge's
        x, y = rng.uniform(0, frame.n, size=2)  # pixel coordinates of the centre
        size = 2 * _stamp_half_size(pop, psf_fwhm, r50, frame) + 1
        # The stamp's middle pixel is centred on (int(x) + 0.5, int(y) + 0.5): offset the rest.
        stamp = galsim.Convolve(profile, psf).drawImage(nx=size, ny=size, scale=frame.scale,
                                                        offset=(x % 1 - 0.5, y % 1 - 0.5)).array
        bands.paste(stamp, int(x), int(y), float(flux_nmgy(rng.uniform(*field.galaxy_mag_r))),
                    {b: mix * bulge[b] + (1 - mix) * disk[b] for b in bulge})
    n_stars = rng.poisson(field.stars_per_arcmin2 * area)
    if n_stars == 0:
        return
    size = 2 * _stamp_half_size(pop, psf_fwhm, 0.0, frame) + 1
    star = psf.drawImage(nx=size, ny=size, scale=frame.scale).array
    for _ in range(n_stars):
        tint = rng.uniform(*field.star_colour_scale)
        x, y = rng.uniform(0, frame.n, size=2)
        bands.paste(star, int(x), int(y), float(flux_nmgy(rng.uniform(*field.star_mag_r))),
                    {b: tint * bulge[b] for b in bulge})


def _stamp_half_size(pop: PopulationCfg, psf_fwhm: float, r50: float, frame: Frame) -> int:
    """Half-size in pixels of a stamp holding all of the PSF (a bright star's wings show)."""
    reach = pop.numerics.psf_trunc_fwhm * psf_fwhm + pop.field.stamp_half_size_r50 * r50
    return math.ceil(reach / frame.scale)
