"""pytest fixtures of the mirror (import them into a test module to use them), and surveys
of the repository's params pointed at it."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable, Iterator

import pandas as pd
import pytest

from pipeline.config import parse, read_params
from pipeline.download.settings import HttpCfg
from pipeline.params import Survey
from pipeline.selection import select
from pipeline.surveys import get_source
from pipeline.surveys.base import CATALOGUE_FILE
from tests.mirror.server import Mirror
from tests.mirror.surveys import SurveyMirror, fast_http

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def mirror() -> Iterator[Mirror]:
    with Mirror(hang_s=1.0) as server:
        yield server


@pytest.fixture
def surveys(mirror: Mirror) -> SurveyMirror:
    return SurveyMirror(mirror)


@pytest.fixture
def http() -> HttpCfg:
    return HttpCfg(**fast_http())


def real_survey(name: str, source: dict[str, Any], edit: Callable[[dict], None] | None = None) -> Survey:
    """Survey ``name`` of the repository's params.yaml with ``source`` as its source block;
    ``edit(block)`` may change the raw block (a threshold, a column) before it is parsed."""
    block = copy.deepcopy(read_params(ROOT / "params.yaml")["survey"][name])
    block["source"] = source
    if edit is not None:
        edit(block)
    return parse(Survey, block, f"survey.{name}")


def source_of(name: str, source: dict[str, Any], edit: Callable[[dict], None] | None = None) -> Any:
    return get_source(name, real_survey(name, source, edit), seed=0)


def selected_of(name: str, source: dict[str, Any], catalogue: pd.DataFrame) -> pd.DataFrame:
    """What the select stage would pass to ``fetch_images``."""
    survey = real_survey(name, source)
    return select(catalogue, survey.selection, list(survey.classes),
                  id_column=source_of(name, source).id_column, survey=name).selected


def catalogue_unmoved_by(name: str, source: dict[str, Any], edit: Callable[[dict], None],
                         tmp_path: Path) -> pd.DataFrame:
    """The catalogue fetched with the params' selection, after checking that fetching it again
    with ``edit`` applied to the selection gives the same table and the same file, byte for byte
    (a threshold never shapes a download; the select stage applies it)."""
    paper, edited = tmp_path / "paper", tmp_path / "edited"
    for folder in (paper, edited):
        folder.mkdir(parents=True)
    table = source_of(name, source).fetch_catalogue(paper)
    pd.testing.assert_frame_equal(source_of(name, source, edit).fetch_catalogue(edited), table)
    assert (edited / CATALOGUE_FILE).read_bytes() == (paper / CATALOGUE_FILE).read_bytes()
    return table
