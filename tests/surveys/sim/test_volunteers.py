"""Simulated volunteers: clear galaxies get clear votes, ambiguous ones split votes."""
from __future__ import annotations

import pandas as pd

from tests.surveys.sim.conftest import make_source

FEATURES = "t01_smooth_or_features_a02_features_or_disk"
SPIRAL = "t04_spiral_a08_spiral"
EDGE_ON = "t02_edgeon_a04_yes"


def _gz2_votes(tmp_path, tag: str, **overrides) -> pd.DataFrame:
    source = make_source("sim_gz2", n_galaxies=300, **overrides)
    return source.fetch_catalogue(tmp_path / tag)


def _spirals(tmp_path, tag: str, mag_r: list[float], r50_arcsec: float) -> pd.DataFrame:
    return _gz2_votes(tmp_path, tag, kind_mix={"spiral": 1.0}, population__mag_r=mag_r,
                      population__radius__r50_at_ref_arcsec=r50_arcsec)


def test_faint_small_spirals_get_split_votes(tmp_path):
    clear = _spirals(tmp_path, "clear", [14.0, 14.5], 6.0)
    faint = _spirals(tmp_path, "faint", [17.5, 17.7], 0.9)
    assert faint[f"{FEATURES}_fraction"].mean() < clear[f"{FEATURES}_fraction"].mean() - 0.2
    assert faint[f"{SPIRAL}_fraction"].mean() < clear[f"{SPIRAL}_fraction"].mean() - 0.2
    assert clear[f"{FEATURES}_fraction"].median() > 0.9
    # Debiasing puts back what poor resolution took away (Hart et al. 2016).
    assert faint[f"{FEATURES}_debiased"].mean() > faint[f"{FEATURES}_fraction"].mean() + 0.1


def test_intermediate_inclinations_split_the_edge_on_question(tmp_path):
    means, spread = {}, {}
    for kind in ("spiral", "inclined", "edge_on"):
        votes = _gz2_votes(tmp_path, kind, kind_mix={kind: 1.0}, population__mag_r=[14.0, 15.0])
        yes = votes.loc[votes[f"{FEATURES}_count"] > 10, f"{EDGE_ON}_fraction"]
        means[kind] = yes.mean()
        spread[kind] = (yes * (1 - yes)).mean()  # 0 for unanimous votes, 0.25 for an even split
    assert means["spiral"] < means["inclined"] < means["edge_on"]
    assert spread["inclined"] > max(spread["spiral"], spread["edge_on"])


def test_smooth_galaxies_are_split_by_their_shape(tmp_path):
    rounded = {}
    for kind in ("round", "elliptical"):
        votes = _gz2_votes(tmp_path, kind, kind_mix={kind: 1.0}, population__mag_r=[14.0, 15.0])
        rounded[kind] = votes["t07_rounded_a16_completely_round_fraction"].mean()
    assert rounded["round"] > 0.7 > 0.3 > rounded["elliptical"]


def test_difficulty_splits_votes(tmp_path):
    easy = _gz2_votes(tmp_path, "easy", votes__difficulty=1.0)
    hard = _gz2_votes(tmp_path, "hard", votes__difficulty=3.0)
    decisive = {name: (votes[f"{FEATURES}_fraction"] - 0.5).abs().mean() for name, votes in
                (("easy", easy), ("hard", hard))}
    assert decisive["hard"] < decisive["easy"]
