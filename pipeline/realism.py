"""How much a survey's images look like real SDSS colour cutouts: sky, noise, brightness, colour.

The statistics are defined on an RGB 8-bit image as stored (H x H), so that simulated and real
cutouts are measured the same way (issue 7):

- the sky is the four corner squares of side H/8; ``sky_level`` is the mean over channels of each
  channel's median there, ``sky_noise`` the mean over channels of 1.4826 x the median absolute
  deviation (MAD), ``chroma_noise`` 1.4826 x the MAD of R - G;
- ``pct_above_5sigma`` is the share (%) of pixels whose mean over channels exceeds
  sky_level + 5 max(sky_noise, 1);
- the centre is the central square of side H/8: ``centre_brightness`` is its mean over pixels and
  channels, ``centre_red_blue`` its mean R over its mean B.

``REAL_SDSS`` holds these statistics measured on 2,550 real SDSS ImgCutout JPEGs with Galaxy Zoo
labels (423 px, scaled to the galaxy's size as GZ2's cutouts are), as reported in issue 7.
"""
from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np

MAD_TO_SIGMA = 1.4826  # a Gaussian's sigma over its median absolute deviation
DETECTION_SIGMA = 5.0
MIN_NOISE = 1.0  # one 8-bit level: the noise floor of the detection threshold
PERCENTILES = {"p10": 10, "p50": 50, "p90": 90}
STATISTICS = ("sky_level", "sky_noise", "chroma_noise", "pct_above_5sigma", "centre_brightness", "centre_red_blue")

#: Real SDSS cutouts (issue 7): p10 / p50 / p90 over images, 0-255 units; red/blue per class (p50).
REAL_SDSS: dict[str, dict] = {
    "sky_level": {"p10": 2.3, "p50": 3.3, "p90": 5.3},
    "sky_noise": {"p10": 2.5, "p50": 3.0, "p90": 4.9},
    "chroma_noise": {"p10": 0.0, "p50": 0.0, "p90": 3.0},
    "pct_above_5sigma": {"p10": 3.1, "p50": 5.3, "p90": 10.5},
    "centre_brightness": {"p10": 54.0, "p50": 83.0, "p90": 113.0},
    "centre_red_blue": {"elliptical": {"p50": 1.78}, "edge_on": {"p50": 1.45}, "spiral": {"p50": 1.23}},
}
RED_BLUE_TOLERANCE = 0.2  # a simulated class's p50 red/blue may differ from the real one by this


def _mad_sigma(values: np.ndarray, axis: int = 0) -> np.ndarray:
    median = np.median(values, axis=axis, keepdims=True)
    return MAD_TO_SIGMA * np.median(np.abs(values - median), axis=axis)


def image_statistics(rgb: np.ndarray) -> dict[str, float]:
    """The statistics of one (H, H, 3) uint8 RGB image (module docstring for the definitions)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] != rgb.shape[1]:
        raise ValueError(f"expected a square RGB image (H, H, 3), got shape {rgb.shape}")
    image = rgb.astype(np.float64)
    side = image.shape[0] // 8
    corners = np.concatenate([image[:side, :side], image[:side, -side:],
                              image[-side:, :side], image[-side:, -side:]]).reshape(-1, 3)  # (4 s^2, 3)
    sky_level = float(np.median(corners, axis=0).mean())
    sky_noise = float(_mad_sigma(corners).mean())
    chroma_noise = float(_mad_sigma(corners[:, 0] - corners[:, 1]))
    threshold = sky_level + DETECTION_SIGMA * max(sky_noise, MIN_NOISE)
    above = float((image.mean(axis=2) > threshold).mean() * 100)
    start = (image.shape[0] - side) // 2
    centre = image[start:start + side, start:start + side].reshape(-1, 3)
    blue = centre[:, 2].mean()
    return {
        "sky_level": sky_level,
        "sky_noise": sky_noise,
        "chroma_noise": chroma_noise,
        "pct_above_5sigma": above,
        "centre_brightness": float(centre.mean()),
        "centre_red_blue": float(centre[:, 0].mean() / blue) if blue > 0 else float("nan"),
    }


def percentiles(values: Iterable[float]) -> dict[str, float]:
    """p10, p50 and p90 of ``values`` (NaN ignored), rounded to 0.01."""
    array = np.asarray(list(values), dtype=float)
    array = array[np.isfinite(array)]
    if array.size == 0:
        return {name: float("nan") for name in PERCENTILES}
    return {name: round(float(np.percentile(array, q)), 2) for name, q in PERCENTILES.items()}


def summarise(per_image: list[Mapping[str, float]], labels: list[str]) -> dict[str, dict]:
    """Percentiles over images of each statistic; ``centre_red_blue`` per class of ``labels``."""
    if len(per_image) != len(labels):
        raise ValueError(f"{len(per_image)} images but {len(labels)} labels")
    out: dict[str, dict] = {name: percentiles(s[name] for s in per_image)
                            for name in STATISTICS if name != "centre_red_blue"}
    out["centre_red_blue"] = {label: percentiles(s["centre_red_blue"] for s, l in zip(per_image, labels) if l == label)
                              for label in sorted(set(labels))}
    return out


def target_failures(summary: Mapping[str, dict], *, fraction_above: bool) -> list[str]:
    """Where a survey's p50 leaves the real cutouts' p10-p90 (issue 7's targets); [] if none.

    ``fraction_above`` is False for fixed-scale cutouts (SDSS's 0.2"/px), whose share of pixels
    above 5 sigma legitimately differs from galaxy-scaled ones.  Chroma noise has an upper bound
    only, the red/blue ratios a tolerance around the real class medians.
    """
    failures = []
    for name in ("sky_level", "sky_noise", "centre_brightness") + (("pct_above_5sigma",) if fraction_above else ()):
        low, high, got = REAL_SDSS[name]["p10"], REAL_SDSS[name]["p90"], summary[name]["p50"]
        if not low <= got <= high:
            failures.append(f"{name} p50 {got} outside the real p10-p90 [{low}, {high}]")
    chroma = summary["chroma_noise"]["p50"]
    if not chroma <= REAL_SDSS["chroma_noise"]["p90"]:
        failures.append(f"chroma_noise p50 {chroma} above the real p90 {REAL_SDSS['chroma_noise']['p90']}")
    for label, real in REAL_SDSS["centre_red_blue"].items():
        got = summary["centre_red_blue"].get(label, {}).get("p50", float("nan"))
        if not abs(got - real["p50"]) <= RED_BLUE_TOLERANCE:
            failures.append(f"centre_red_blue[{label}] p50 {got} not within {RED_BLUE_TOLERANCE} of {real['p50']}")
    return failures
