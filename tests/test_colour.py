"""The survey's colour mapping (pipeline/colour.py): where it comes from, validation, its file."""
from __future__ import annotations

import copy
import json

import pytest

from pipeline.colour import COLOUR_FILE, Colour, read_colour, survey_colour, write_colour
from pipeline.config import ConfigError, read_params
from pipeline.params import load_params, survey_params
from stages import shared as shared_stage
from tests.surveys.sim.conftest import PARAMS

SDSS = {"bands": ["i", "r", "g"], "band_weights": [1.0, 1.1, 1.6], "asinh_q": 8.0, "asinh_stretch_sb": 20.75}


def test_a_simulated_survey_takes_the_composite_its_simulator_renders_with():
    source = copy.deepcopy(read_params(PARAMS)["survey"]["sim_decals"]["source"])
    source["image"]["asinh_q"] = 3.0  # one place for each fact: the image block is the mapping
    colour = survey_colour("sim_decals", source)
    assert colour == Colour(bands=tuple(source["instrument"]["rgb_bands"]),
                            band_weights=tuple(source["image"]["band_weights"]), asinh_q=3.0,
                            asinh_stretch_sb=source["image"]["asinh_stretch_sb"])


def test_every_survey_of_params_yaml_has_its_mapping():
    params = read_params(PARAMS)
    mappings = {name: survey_colour(name, block["source"]) for name, block in params["survey"].items()}
    assert mappings["sdss"].bands == mappings["gz2"].bands == ("i", "r", "g")
    assert mappings["decals"].bands == mappings["sim_decals"].bands == ("z", "r", "g")
    assert mappings["local_example"] is None  # a user's JPEGs: recipe unknown
    assert all(mappings[name] is not None for name in params["surveys"])


def test_the_real_sources_parse_their_colour_block():
    """The gz2/sdss/decals sources read `colour` strictly (a typo in it is an error there too)."""
    from pipeline.surveys import get_source

    params = load_params(PARAMS)
    for name in ("gz2", "sdss", "decals"):
        assert get_source(name, survey_params(params, name), params.seed).cfg.colour == survey_colour(
            name, survey_params(params, name).source)


@pytest.mark.parametrize("change, key, why", [
    ({"bands": ["i", "r"]}, "survey.sdss.source.colour.bands", "needs three bands"),
    ({"bands": ["r", "r", "g"]}, "survey.sdss.source.colour.bands", "appears twice"),
    ({"band_weights": [1.0, -1.0, 1.0]}, "survey.sdss.source.colour.band_weights.1", "must be positive"),
    ({"band_weights": [1.0, 1.0]}, "survey.sdss.source.colour.band_weights", "needs three weights"),
    ({"asinh_q": 0}, "survey.sdss.source.colour.asinh_q", "must be positive"),
    ({"asinh_stretch_sb": "bright"}, "survey.sdss.source.colour.asinh_stretch_sb", "expected a number"),
    ({"gamma": 2.2}, "survey.sdss.source.colour.gamma", "unknown key"),
])
def test_a_bad_mapping_is_an_error_naming_the_key(change, key, why):
    with pytest.raises(ConfigError, match=f"^{key.replace('.', '[.]')}: .*{why}"):
        survey_colour("sdss", {"kind": "sdss", "colour": {**SDSS, **change}})


def test_a_simulated_survey_without_a_composite_key_names_it():
    with pytest.raises(ConfigError, match=r"^survey\.sim_x\.source\.image\.asinh_q: missing key"):
        survey_colour("sim_x", {"kind": "sim", "instrument": {"rgb_bands": ["i", "r", "g"]},
                                "image": {"band_weights": [1, 1, 1], "asinh_stretch_sb": 20.0}})


def test_the_file_round_trips_and_is_stable(tmp_path):
    colour = Colour.from_dict(SDSS)
    assert Colour.from_dict(colour.as_dict()) == colour
    assert json.loads(json.dumps(colour.as_dict())) == SDSS
    write_colour(tmp_path, colour)
    first = (tmp_path / COLOUR_FILE).read_bytes()
    write_colour(tmp_path, read_colour(tmp_path))
    assert (tmp_path / COLOUR_FILE).read_bytes() == first  # unchanged mapping: dependants stay cached
    assert read_colour(tmp_path) == colour
    write_colour(tmp_path, None)
    assert read_colour(tmp_path) is None


def test_a_missing_file_says_to_run_the_shared_stage(tmp_path):
    with pytest.raises(ConfigError, match="run the shared stage"):
        read_colour(tmp_path)


def test_the_shared_stage_writes_each_surveys_mapping(tmp_path, monkeypatch):
    params = load_params(PARAMS)
    monkeypatch.chdir(tmp_path)  # stage outputs are relative to the repository root
    for name in ("sim_sdss", "decals"):
        shared_stage.run(name, survey_params(params, name), params)
        assert read_colour(tmp_path / "data" / "shared" / name) == survey_colour(name, survey_params(params, name).source)
