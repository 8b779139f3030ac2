"""Light profiles of a bulge (Sersic) + disk (exponential) galaxy: fluxes and Petrosian radii.

The catalogues give Petrosian radii (GZ2 cutouts are 0.02 petroR90_r per pixel; GZ DECaLS gives
petro_th50/th90), and their ratio to the half-light radius depends on concentration: a de
Vaucouleurs profile's Petrosian aperture misses much of its extended wings.  The radii here follow
the SDSS definition (Blanton et al. 2001) on the circularised, untruncated model profile, with the
local surface brightness standing in for the annulus average.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.special import gamma, gammainc, gammaincinv

from pipeline.colour import NMGY_ZERO_POINT
from pipeline.surveys.sim.config import PetrosianCfg

EXPONENTIAL_N = 1.0  # an exponential disk is a Sersic profile of index 1
BISECTIONS = 60  # halvings of the search interval: far below float precision in log radius
SEARCH_DECADES = 3.0  # roots are searched from 1e-3 x the smaller to 1e3 x the larger radius


def magnitude_ratio(delta_mag: np.ndarray | float) -> np.ndarray:
    """Flux ratio of a magnitude difference (Pogson: 5 magnitudes = a factor 100)."""
    return 10 ** (-0.4 * np.asarray(delta_mag, dtype=float))


def flux_nmgy(mag: np.ndarray | float) -> np.ndarray:
    """Flux in nanomaggies of an AB magnitude (or surface brightness per arcsec^2)."""
    return magnitude_ratio(np.asarray(mag, dtype=float) - NMGY_ZERO_POINT)


def sersic_b(n: np.ndarray | float) -> np.ndarray:
    """b_n such that r50 encloses half the light: r50 = b_n^n x scale length."""
    return gammaincinv(2 * np.asarray(n, dtype=float), 0.5)


def sersic_enclosed(radius: np.ndarray, n: np.ndarray, r50: np.ndarray) -> np.ndarray:
    """Fraction of a circular Sersic profile's light inside ``radius`` (Ciotti 1991)."""
    return gammainc(2 * n, sersic_b(n) * (radius / r50) ** (1 / n))


def sersic_surface_brightness(radius: np.ndarray, n: np.ndarray, r50: np.ndarray) -> np.ndarray:
    """Surface brightness at ``radius`` of a unit-flux circular Sersic profile."""
    b_n = sersic_b(n)
    norm = b_n ** (2 * n) / (2 * np.pi * n * gamma(2 * n) * r50 ** 2)
    return norm * np.exp(-b_n * (radius / r50) ** (1 / n))


class BulgeDisk:
    """Circularised unit-flux bulge + exponential disk profiles (arrays: one galaxy per entry)."""

    def __init__(self, bulge_to_total: np.ndarray, bulge_n: np.ndarray, bulge_r50: np.ndarray,
                 disk_r50: np.ndarray):
        self.bt = np.asarray(bulge_to_total, dtype=float)
        self.n = np.asarray(bulge_n, dtype=float)
        self.bulge_r50 = np.asarray(bulge_r50, dtype=float)
        self.disk_r50 = np.asarray(disk_r50, dtype=float)

    def enclosed(self, radius: np.ndarray) -> np.ndarray:
        disk_n = np.full_like(radius, EXPONENTIAL_N)
        return (self.bt * sersic_enclosed(radius, self.n, self.bulge_r50)
                + (1 - self.bt) * sersic_enclosed(radius, disk_n, self.disk_r50))

    def surface_brightness(self, radius: np.ndarray) -> np.ndarray:
        disk_n = np.full_like(radius, EXPONENTIAL_N)
        return (self.bt * sersic_surface_brightness(radius, self.n, self.bulge_r50)
                + (1 - self.bt) * sersic_surface_brightness(radius, disk_n, self.disk_r50))

    def petrosian_ratio(self, radius: np.ndarray) -> np.ndarray:
        """Local surface brightness over the mean inside ``radius`` (1 at the centre, then falling)."""
        return self.surface_brightness(radius) * np.pi * radius ** 2 / self.enclosed(radius)

    def solve(self, increasing: Callable[[np.ndarray], np.ndarray], target: np.ndarray | float) -> np.ndarray:
        """Radius where the increasing function ``increasing(r)`` reaches ``target`` (bisection)."""
        low = np.minimum(self.bulge_r50, self.disk_r50) * 10 ** -SEARCH_DECADES
        high = np.maximum(self.bulge_r50, self.disk_r50) * 10 ** SEARCH_DECADES
        for _ in range(BISECTIONS):
            mid = np.sqrt(low * high)
            below = increasing(mid) < target
            low = np.where(below, mid, low)
            high = np.where(below, high, mid)
        return np.sqrt(low * high)


def petrosian_radii(profile: BulgeDisk, petrosian: PetrosianCfg) -> tuple[np.ndarray, np.ndarray]:
    """(petroR50, petroR90): radii enclosing 50% and 90% of the Petrosian flux."""
    r_p = profile.solve(lambda r: -profile.petrosian_ratio(r), -petrosian.ratio)
    flux = profile.enclosed(petrosian.aperture_radii * r_p)
    return profile.solve(profile.enclosed, 0.5 * flux), profile.solve(profile.enclosed, 0.9 * flux)
