"""Bad simulator params fail fast with the dotted key in the message."""
from __future__ import annotations

import pytest

from pipeline.config import ConfigError
from pipeline.surveys.sim import SimSource
from tests.surveys.sim.conftest import SEED, source_cfg


def _error(name: str, cfg: dict) -> str:
    with pytest.raises(ConfigError) as info:
        SimSource(name, cfg, SEED)
    return str(info.value)


def test_default_params_parse(survey_name):
    assert SimSource(survey_name, source_cfg(survey_name), SEED).image_suffix in (".jpg", ".png")


def test_typo_names_the_key():
    cfg = source_cfg("sim_gz2")
    cfg["n_galaxys"] = cfg.pop("n_galaxies")
    assert _error("sim_gz2", cfg).startswith("survey.sim_gz2.source.n_galaxys: unknown key")


@pytest.mark.parametrize("dotted, value, key", [
    ("n_galaxies", -5, "n_galaxies"),
    ("n_workers", "two", "n_workers"),
    ("population.kinds.spiral.bulge_to_total", [0.6, 0.2], "population.kinds.spiral.bulge_to_total"),
    ("population.volunteers.concentration", 0, "population.volunteers.concentration"),
    ("kind_mix", {"spirals": 1.0}, "kind_mix.spirals"),
    ("image.format", "gif", "image.format"),
    ("image.jpeg_quality", None, "image.jpeg_quality"),
    ("instrument.rgb_bands", ["i", "r"], "instrument.rgb_bands"),
])
def test_bad_value_names_the_key(dotted, value, key):
    message = _error("sim_gz2", source_cfg("sim_gz2", **{dotted: value}))
    assert message.startswith(f"survey.sim_gz2.source.{key}:")


def test_schema_specific_vote_setting_is_required():
    cfg = source_cfg("sim_sdss")
    del cfg["votes"]["clean_fraction"]
    assert _error("sim_sdss", cfg).startswith("survey.sim_sdss.source.votes.clean_fraction:")


def test_missing_key_is_named():
    cfg = source_cfg("sim_decals")
    del cfg["population"]["radius"]["dex_per_mag"]
    assert _error("sim_decals", cfg) == "survey.sim_decals.source.population.radius.dex_per_mag: missing key"
