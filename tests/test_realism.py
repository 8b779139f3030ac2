"""The realism statistics (pipeline/realism.py) on images whose answers are worked out by hand."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline import realism


def _image() -> np.ndarray:
    """64 x 64: corners (side 8) hold a known sky pattern, the centre square (side 8) a red blob."""
    rgb = np.zeros((64, 64, 3), np.uint8)
    # Sky: in every corner the rows alternate 2, 4, 6 (G = R + 1, B = R): median 4, MAD 2.
    pattern = np.resize(np.array([2, 4, 6], np.uint8), (8, 8))  # rows of 2 4 6 2 4 6 ...
    for rows, cols in ((slice(0, 8), slice(0, 8)), (slice(0, 8), slice(56, 64)),
                       (slice(56, 64), slice(0, 8)), (slice(56, 64), slice(56, 64))):
        rgb[rows, cols, 0] = pattern
        rgb[rows, cols, 1] = pattern + 1
        rgb[rows, cols, 2] = pattern
    rgb[28:36, 28:36] = (120, 90, 60)  # the centre square (64 // 8 = 8, starting at 28)
    rgb[0, 20:30] = (200, 200, 200)  # ten bright pixels outside the corners and the centre
    return rgb


def test_statistics_match_hand_computed_values():
    stats = realism.image_statistics(_image())
    # Each corner is 64 px with values 2, 4, 6 in proportion 22:21:21 (np.resize order): median 4.
    assert stats["sky_level"] == pytest.approx((4 + 5 + 4) / 3)
    assert stats["sky_noise"] == pytest.approx(1.4826 * 2)
    assert stats["chroma_noise"] == 0  # R - G is -1 everywhere in the corners
    # threshold = 13/3 + 5 x 2.9652 = 19.16: the 64 centre pixels (mean 90) and the 10 bright ones
    assert stats["pct_above_5sigma"] == pytest.approx(74 / 64 ** 2 * 100)
    assert stats["centre_brightness"] == pytest.approx(90)
    assert stats["centre_red_blue"] == pytest.approx(2.0)


def test_noise_floor_of_one_level_in_the_threshold():
    flat = np.full((32, 32, 3), 10, np.uint8)
    flat[16, 16] = 16  # 6 above a noiseless sky: above 10 + 5 x max(0, 1) = 15
    flat[15, 15] = 14
    assert realism.image_statistics(flat)["pct_above_5sigma"] == pytest.approx(100 / 32 ** 2)


def test_summary_percentiles_and_classes():
    per_image = [{name: float(v) for name in realism.STATISTICS} for v in range(11)]  # 0..10
    summary = realism.summarise(per_image, ["a"] * 6 + ["b"] * 5)
    assert summary["sky_noise"] == {"p10": 1.0, "p50": 5.0, "p90": 9.0}
    assert summary["centre_red_blue"]["a"]["p50"] == 2.5 and summary["centre_red_blue"]["b"]["p50"] == 8.0


def test_targets_are_the_real_p10_to_p90():
    inside = {"sky_level": 3.3, "sky_noise": 3.0, "chroma_noise": 0.0, "pct_above_5sigma": 5.3,
              "centre_brightness": 83.0}
    summary = {name: {"p50": value} for name, value in inside.items()}
    summary["centre_red_blue"] = {"elliptical": {"p50": 1.9}, "edge_on": {"p50": 1.3}, "spiral": {"p50": 1.23}}
    assert realism.target_failures(summary, fraction_above=True) == []
    summary["sky_noise"]["p50"] = 5.0
    summary["pct_above_5sigma"]["p50"] = 1.0
    summary["centre_red_blue"]["spiral"]["p50"] = 1.5
    failures = realism.target_failures(summary, fraction_above=True)
    assert [f.split()[0] for f in failures] == ["sky_noise", "pct_above_5sigma", "centre_red_blue[spiral]"]
    assert len(realism.target_failures(summary, fraction_above=False)) == 2  # SDSS's fixed scale


def test_rejects_non_square_or_grey_images():
    with pytest.raises(ValueError, match="square RGB"):
        realism.image_statistics(np.zeros((10, 12, 3), np.uint8))
    with pytest.raises(ValueError, match="square RGB"):
        realism.image_statistics(np.zeros((10, 10), np.uint8))
