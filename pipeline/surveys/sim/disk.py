"""Face-on disk light with logarithmic spiral arms and star-forming clumps (numpy).

GalSim has no spiral profile: the face-on disk is built here on a square grid and wrapped in a
``galsim.InterpolatedImage`` by ``render.py``, which inclines and rotates it.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
from scipy.special import gamma

from pipeline.surveys.sim.config import DiskCfg, NumericsCfg
from pipeline.surveys.sim.profiles import EXPONENTIAL_N, sersic_b


def face_on_disk(row: Mapping[str, Any], disk: DiskCfg, numerics: NumericsCfg,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """Face-on exponential disk with arms, and its clumps: (disk light, clump light, arcsec/pixel).

    The light is multiplied by 1 + A (S / <S> - 1) with S = ((1 + cos phi) / 2) ** sharpness and
    phi = m (theta -+ ln(r / h) / tan(pitch)) + phi_0 (m arms, scale length h), constant along
    logarithmic spirals; the arms fade out in the bulge region.  Clumps sit on grid pixels drawn
    in proportion to disk light x modulation ** clump_arm_bias, so they trace the arms.
    """
    r50 = float(row["r50"])  # the disk half-light radius is the galaxy size
    n_px = numerics.face_on_grid_px
    scale = 2 * numerics.face_on_half_extent_r50 * r50 / n_px
    axis = (np.arange(n_px) - (n_px - 1) / 2) * scale
    x, y = np.meshgrid(axis, axis)
    radius = np.hypot(x, y)
    scale_length = r50 / float(sersic_b(EXPONENTIAL_N))
    light = np.exp(-radius / scale_length)
    modulation = np.ones_like(light)
    strength = float(row["arm_strength"])
    if strength > 0:
        winding = -1.0 if row["clockwise"] else 1.0  # outward arms turn clockwise as displayed
        pitch = math.radians(float(row["pitch_deg"]))
        safe_r = np.maximum(radius, scale / 2)
        phase = int(row["n_arms"]) * (np.arctan2(y, x) - winding * np.log(safe_r / scale_length) / math.tan(pitch))
        sharpness = float(row["arm_sharpness"])
        profile = ((1 + np.cos(phase + float(row["arm_phase"]))) / 2) ** sharpness
        # Mean of ((1 + cos) / 2) ** p over a turn, so that the modulation keeps the disk's flux.
        mean = gamma(sharpness + 0.5) / (math.sqrt(math.pi) * gamma(sharpness + 1))
        fade = 1 - np.exp(-(radius / (disk.arm_inner_r50 * r50)) ** 2)
        modulation = 1 + strength * fade * (profile / mean - 1)
    weights = (light * modulation ** disk.clump_arm_bias).ravel()
    picks = rng.choice(weights.size, size=int(row["n_clumps"]), p=weights / weights.sum())
    clumps = np.bincount(picks, minlength=weights.size).reshape(light.shape).astype(float)
    return light * modulation, clumps, scale
