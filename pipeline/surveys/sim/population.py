"""Draw the physical galaxies of a simulated survey from the shared population.

Every galaxy is a Sersic bulge plus an inclined exponential disk with optional log-spiral arms
and star-forming clumps (``render.py`` draws it), sometimes with a bright companion.  One table
row holds everything needed to render it and to simulate its volunteers; the survey only chooses
how many galaxies of each kind (``kind_mix``) and how they are observed.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.surveys.sim.config import PixelScaleCfg, PopulationCfg, SimSourceCfg
from pipeline.surveys.sim.profiles import BulgeDisk, petrosian_radii

OTHER_CLASS = "other"  # true class of a kind the survey's classes do not name
COMPONENTS = ("bulge", "disk", "clumps")


def colour_column(component: str, band: str) -> str:
    """Truth column holding ``component``'s magnitude offset m_band - m_r."""
    return f"{component}_dm_{band}"


def draw_population(cfg: SimSourceCfg, rng: np.random.Generator) -> pd.DataFrame:
    """``cfg.n_galaxies`` galaxies: kind, true class, structure, colours, companion, catalogued
    radii, cutout pixel scale and the seeing they were observed in."""
    pop = cfg.population
    n = cfg.n_galaxies
    names = list(cfg.kind_mix)
    weights = np.array([cfg.kind_mix[k] for k in names], dtype=float)
    kinds = np.array(names)[rng.choice(len(names), size=n, p=weights / weights.sum())]
    table = pd.DataFrame({"kind": kinds,
                          "true_class": [cfg.truth_class.get(k, OTHER_CLASS) for k in kinds]})
    table = table.assign(**_structure(pop, kinds, rng))
    table = table.assign(**_colours(pop, kinds, table["disk_q"].to_numpy(), rng), **_companion(pop, rng, n))
    profile = BulgeDisk(table["bulge_to_total"].to_numpy(), table["bulge_n"].to_numpy(),
                        table["bulge_r50"].to_numpy(), table["r50"].to_numpy())
    th50, th90 = petrosian_radii(profile, pop.petrosian)
    table["true_th50"] = th50  # what the image shows (volunteers judge resolution by it)
    # Catalogued radii are measurements: the cutout scale inherits their errors.
    error = 10 ** rng.normal(0.0, pop.petrosian.scatter_dex, size=n)
    th50, th90 = th50 * error, th90 * error
    table["petro_th50"] = th50
    table["petro_th90"] = th90
    table["pixel_scale"] = pixel_scale(cfg.image.pixel_scale, th50, th90)
    table["psf_fwhm"] = rng.uniform(*cfg.instrument.psf_fwhm_arcsec, size=n)  # seeing of the frame
    return table


def pixel_scale(rule: PixelScaleCfg, th50: np.ndarray, th90: np.ndarray) -> np.ndarray:
    """Cutout arcsec/pixel: fixed, or tied to the galaxy size as GZ2 and GZ DECaLS do."""
    if rule.fixed_arcsec is not None:
        return np.full(np.shape(th50), rule.fixed_arcsec)
    scale = np.full(np.shape(th50), np.inf)
    if rule.per_th50 is not None:
        scale = np.minimum(scale, rule.per_th50 * np.asarray(th50))
    if rule.per_th90 is not None:
        scale = np.minimum(scale, rule.per_th90 * np.asarray(th90))
    if rule.min_arcsec is not None:
        scale = np.maximum(scale, rule.min_arcsec)
    return scale


def _per_kind(pop: PopulationCfg, kinds: np.ndarray, field: str, rng: np.random.Generator,
              integer: bool = False) -> np.ndarray:
    """Draw ``field`` uniformly within each galaxy's kind span."""
    low = np.array([getattr(pop.kinds[k], field)[0] for k in kinds])
    high = np.array([getattr(pop.kinds[k], field)[1] for k in kinds])
    if integer:
        return rng.integers(low, high + 1)
    return rng.uniform(low, high)


def _magnitudes(span: tuple[float, float], slope: float, uniform: np.ndarray) -> np.ndarray:
    """Magnitudes with number counts dN/dm ~ 10 ** (slope m) inside ``span`` (inverse CDF)."""
    low, high = span
    if slope == 0 or low == high:
        return low + (high - low) * uniform
    lo, hi = 10 ** (slope * low), 10 ** (slope * high)
    return np.log10(lo + uniform * (hi - lo)) / slope


def _round_to(values: np.ndarray, step: float) -> np.ndarray:
    return np.round(values / step) * step


def _structure(pop: PopulationCfg, kinds: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = len(kinds)
    mag = _magnitudes(pop.mag_r, pop.counts_slope, rng.random(n))
    size = pop.radius
    log_r50 = (np.log10(size.r50_at_ref_arcsec) - size.dex_per_mag * (mag - size.ref_mag)
               + rng.normal(0.0, size.scatter_dex, size=n))
    r50 = np.clip(10 ** log_r50, *size.r50_range_arcsec)
    # Isotropic orientations: cos(i) uniform between the kind's limits.
    low = np.array([pop.kinds[k].inclination_deg[0] for k in kinds])
    high = np.array([pop.kinds[k].inclination_deg[1] for k in kinds])
    cos_i = rng.uniform(np.cos(np.radians(high)), np.cos(np.radians(low)))
    inc = np.degrees(np.arccos(cos_i))
    thickness = rng.uniform(*pop.disk.thickness, size=n)
    # Apparent axis ratio of an oblate disk of intrinsic thickness q0 (Hubble 1926).
    disk_q = np.sqrt(cos_i ** 2 + thickness ** 2 * (1 - cos_i ** 2))
    return {
        "mag_r": mag,
        "r50": r50,  # galaxy size: the disk half-light radius, or the spheroid's with bulge_size_ratio 1
        "bulge_to_total": _per_kind(pop, kinds, "bulge_to_total", rng),
        "bulge_n": _round_to(_per_kind(pop, kinds, "bulge_sersic_n", rng), pop.numerics.sersic_n_step),
        "bulge_q": _per_kind(pop, kinds, "bulge_axis_ratio", rng),
        "bulge_r50": r50 * _per_kind(pop, kinds, "bulge_size_ratio", rng),
        "inclination_deg": inc,
        "disk_q": disk_q,
        "pa_deg": rng.uniform(0.0, 180.0, size=n),
        "arm_strength": _per_kind(pop, kinds, "arm_strength", rng),
        "n_arms": _per_kind(pop, kinds, "n_arms", rng, integer=True),
        "pitch_deg": _per_kind(pop, kinds, "pitch_deg", rng),
        "arm_sharpness": rng.uniform(*pop.disk.arm_sharpness, size=n),
        "arm_phase": rng.uniform(0.0, 2 * np.pi, size=n),
        "clockwise": rng.random(n) < 0.5,  # spiral winding has no preferred sense
        "clump_fraction": _per_kind(pop, kinds, "clump_fraction", rng),
        "n_clumps": _per_kind(pop, kinds, "n_clumps", rng, integer=True),
    }


def _colours(pop: PopulationCfg, kinds: np.ndarray, disk_q: np.ndarray,
             rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per-galaxy colour offsets of each component (see ``ColoursCfg`` and ``KindCfg.colour_scale``)."""
    colours = pop.colours
    n = len(disk_q)
    kind_scale = _per_kind(pop, kinds, "colour_scale", rng)  # the colour-morphology relation
    redshift = rng.uniform(*colours.shift_range, size=n)
    dust = np.log10(1 / disk_q)
    out = {}
    for component in COMPONENTS:
        factor = rng.normal(1.0, colours.scatter, size=n) * kind_scale
        extinction = dust if component != "bulge" else np.zeros(n)
        for band, offset in getattr(colours, component).items():
            out[colour_column(component, band)] = (offset * factor + colours.shift[band] * redshift
                                                   + colours.dust[band] * extinction)
    return out


def _companion(pop: PopulationCfg, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    comp = pop.companion
    return {
        "has_companion": rng.random(n) < comp.fraction,
        "companion_dmag": rng.uniform(*comp.mag_offset, size=n),
        "companion_sep_r50": rng.uniform(*comp.separation_r50, size=n),
        "companion_pa_deg": rng.uniform(0.0, 360.0, size=n),
        "companion_r50_ratio": rng.uniform(*comp.r50_ratio, size=n),
        "companion_n": _round_to(rng.uniform(*comp.sersic_n, size=n), pop.numerics.sersic_n_step),
        "companion_q": rng.uniform(*comp.axis_ratio, size=n),
        "companion_red": rng.random(n) < comp.red_fraction,
    }
