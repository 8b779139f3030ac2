"""Shared helpers for the simulated-survey tests: the real params.yaml blocks, shrunk for speed."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pipeline.config import read_params
from pipeline.surveys.sim import SimSource

PARAMS = Path(__file__).resolve().parents[3] / "params.yaml"
SURVEYS = ("sim_gz2", "sim_sdss", "sim_decals")
SEED = 7


def source_cfg(name: str, **overrides: Any) -> dict[str, Any]:
    """``survey.<name>.source`` from params.yaml with dotted-key overrides (``image.size_px=64``)."""
    params = read_params(PARAMS)
    # The shared top-level `sim_population` block, given to SimSource inside its source block.
    cfg = {**copy.deepcopy(params["survey"][name]["source"]), "population": copy.deepcopy(params["sim_population"])}
    for dotted, value in overrides.items():
        *parents, leaf = dotted.split(".")
        node = cfg
        for key in parents:
            node = node[key]
        node[leaf] = value
    return cfg


def make_source(name: str, seed: int = SEED, **overrides: Any) -> SimSource:
    return SimSource(name, source_cfg(name, **{k.replace("__", "."): v for k, v in overrides.items()}), seed)


def selected_rows(source: SimSource, catalogue: pd.DataFrame, n: int) -> pd.DataFrame:
    """The first ``n`` catalogue rows in the shape the images stage passes (id as str)."""
    rows = catalogue.head(n)
    return pd.DataFrame({"id": rows[source.id_column].astype(str), "ra": rows["ra"], "dec": rows["dec"],
                         "label": "any"})


@pytest.fixture(params=SURVEYS)
def survey_name(request: pytest.FixtureRequest) -> str:
    return request.param
