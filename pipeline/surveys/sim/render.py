"""Render one simulated galaxy as the survey's cutout service would serve it (GalSim).

The galaxy is drawn in surface brightness (nanomaggies / arcsec^2) in the three bands shown as
RGB: a truncated Sersic bulge, an inclined exponential disk whose face-on light carries
log-spiral arms (``disk.py``, wrapped in ``galsim.InterpolatedImage``, then inclined and
rotated), star-forming clumps along the arms, and sometimes a bright companion; background
galaxies and stars fill the frame (``field.py``).  Each component is convolved with the frame's
Moffat PSF and drawn once; the bands are linear combinations of those images with the
components' colours (``canvas.py``; one PSF for all bands).  Sky noise is added at (at least)
the detector's pixel scale; the asinh composite (``rgb.py``) is then resampled to the cutout
size, as cutout services resample their colour mosaics.

Everything random here comes from the generator passed in, which ``source.py`` keys on
(seed, survey, galaxy id): an image never depends on which other galaxies are rendered.
"""
from __future__ import annotations

import functools
import math
from typing import Any, Mapping

import galsim
import numpy as np
from PIL import Image

from pipeline.surveys.sim.canvas import BandImages, frame_for, sersic
from pipeline.surveys.sim.config import PopulationCfg, SimSourceCfg
from pipeline.surveys.sim.disk import face_on_disk
from pipeline.surveys.sim.field import add_field
from pipeline.surveys.sim.population import COMPONENTS, colour_column
from pipeline.surveys.sim.profiles import flux_nmgy, magnitude_ratio
from pipeline.surveys.sim.rgb import asinh_composite, jpeg_roundtrip

Component = tuple[galsim.GSObject, float, dict[str, float]]  # unit-flux profile, r flux, colour


def render_bands(row: Mapping[str, Any], cfg: SimSourceCfg, rng: np.random.Generator) -> np.ndarray:
    """Noisy surface-brightness images (3, n, n) of a truth row on the render grid, top row north."""
    pop = cfg.population
    frame = frame_for(float(row["pixel_scale"]), cfg)
    gsparams = galsim.GSParams(folding_threshold=pop.numerics.folding_threshold,
                               maxk_threshold=pop.numerics.maxk_threshold)
    fwhm = float(row["psf_fwhm"])
    psf = _unit_psf(cfg.instrument.psf_moffat_beta, pop.numerics.psf_trunc_fwhm, gsparams).dilate(fwhm)
    bands = BandImages(cfg.instrument.rgb_bands, frame.n)
    for profile, flux_r, colour in _galaxy_components(row, pop, rng, gsparams):
        image = galsim.Convolve(profile, psf).drawImage(nx=frame.n, ny=frame.n, scale=frame.scale)
        bands.add(image.array, flux_r, colour)
    add_field(bands, frame, pop, psf, fwhm, rng, gsparams)
    surface = bands.flux / frame.scale ** 2
    # sky_sb_1sigma is the noise of a 1" x 1" box: a pixel of side s averages it down by s.
    sky = np.array([flux_nmgy(cfg.instrument.sky_sb_1sigma[b]) for b in bands.bands]) / frame.scale
    surface += rng.normal(size=surface.shape) * sky[:, None, None]
    # GalSim's first array row is the bottom (south) edge; images are stored top row first.
    return surface[:, ::-1, :]


def compose_image(bands: np.ndarray, cfg: SimSourceCfg) -> np.ndarray:
    """The cutout as served, (size_px, size_px, 3) uint8 RGB at the cutout's pixel scale, from the
    bands :func:`render_bands` drew (it draws nothing random itself)."""
    composite = asinh_composite(bands, cfg.image)
    if cfg.image.mosaic_jpeg_quality is not None:
        composite = jpeg_roundtrip(composite, cfg.image.mosaic_jpeg_quality)
    rgb = Image.fromarray(composite, mode="RGB")
    size = cfg.image.size_px
    if rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(rgb)


@functools.lru_cache(maxsize=4)
def _unit_psf(beta: float, trunc_fwhm: float, gsparams: galsim.GSParams) -> galsim.Moffat:
    """A Moffat PSF of unit FWHM, built once per process and dilated to each frame's seeing.

    GalSim finds a truncated Moffat's Fourier extent numerically (milliseconds) and caches it on
    the object; a dilation rescales the cached value instead of searching again.
    """
    return galsim.Moffat(beta=beta, fwhm=1.0, trunc=trunc_fwhm, gsparams=gsparams)


def _galaxy_components(row: Mapping[str, Any], pop: PopulationCfg, rng: np.random.Generator,
                       gsparams: galsim.GSParams) -> list[Component]:
    """The bulge, disk, clumps and companion of a truth row."""
    flux = float(flux_nmgy(row["mag_r"]))
    bt = float(row["bulge_to_total"])
    pa = float(row["pa_deg"]) * galsim.degrees
    colours = {c: {b: float(row[colour_column(c, b)]) for b in pop.colours.bulge} for c in COMPONENTS}
    bulge = sersic(float(row["bulge_n"]), float(row["bulge_r50"]), pop.numerics, gsparams)
    parts = [(bulge.shear(q=float(row["bulge_q"]), beta=pa), flux * bt, colours["bulge"])]
    if bt < 1:
        disk_light, clump_light, grid_scale = face_on_disk(row, pop.disk, pop.numerics, rng)
        q = float(row["disk_q"])
        clump_flux = flux * (1 - bt) * float(row["clump_fraction"])

        def inclined(light: np.ndarray) -> galsim.GSObject:
            face_on = galsim.InterpolatedImage(galsim.Image(light, scale=grid_scale), flux=1.0,
                                               x_interpolant="linear", gsparams=gsparams)
            # Shear keeps the area; dilating by sqrt(q) restores the major axis: b/a = q.
            return face_on.shear(q=q, beta=pa).dilate(math.sqrt(q))

        parts.append((inclined(disk_light), flux * (1 - bt) - clump_flux, colours["disk"]))
        if clump_flux > 0 and clump_light.sum() > 0:
            parts.append((inclined(clump_light), clump_flux, colours["clumps"]))
    if row["has_companion"]:
        parts.append(_companion(row, pop, flux, pa, colours, gsparams))
    return parts


def _companion(row: Mapping[str, Any], pop: PopulationCfg, flux: float, pa: galsim.Angle,
               colours: dict[str, dict[str, float]], gsparams: galsim.GSParams) -> Component:
    r50 = float(row["r50"])
    separation = float(row["companion_sep_r50"]) * r50
    angle = math.radians(float(row["companion_pa_deg"]))
    profile = sersic(float(row["companion_n"]), r50 * float(row["companion_r50_ratio"]), pop.numerics, gsparams)
    profile = profile.shear(q=float(row["companion_q"]), beta=pa).shift(separation * math.cos(angle),
                                                                       separation * math.sin(angle))
    colour = colours["bulge" if row["companion_red"] else "disk"]
    return profile, flux * float(magnitude_ratio(row["companion_dmag"])), colour
