"""The catalogue columns and numbers a survey's selection reads, checked before any request.

A real source downloads its whole catalogue table, whatever the selection says: the rules and
filters of ``survey.<name>.selection`` (paper Table 1) are applied locally by the select stage,
so editing a threshold never re-downloads a catalogue.  The source still checks them when it is
built, against the columns of its table (issue 3: a bad threshold or an unknown column is
reported, naming its params key, before a single request is made, not after a long download).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from pipeline.config import ConfigError
from pipeline.params_reads import not_a_dependency
from pipeline.params import Selection


@dataclass(frozen=True)
class Term:
    """One comparison ``column op value``; ``param`` is its params key, for messages."""

    column: str
    op: str
    value: float
    param: str


def all_terms(selection: Selection, path: str) -> list[Term]:
    """Every comparison of the selection: the global filters (e.g. SDSS ``clean == 1``), then
    each rule's thresholds (``>=`` on the suffixed column)."""
    terms = [Term(f.column, f.op, f.value, f"{path}.filters.{i}") for i, f in enumerate(selection.filters)]
    for cls, alternatives in selection.rules.items():
        for j, alternative in enumerate(alternatives):
            terms += [Term(f"{column}{selection.suffix}", ">=", threshold, f"{path}.rules.{cls}.{j}.{column}")
                      for column, threshold in alternative.items()]
    return terms


def check_terms(selection: Selection, path: str, known: Callable[[str], bool],
                value_range: Callable[[str], tuple[float, float]], catalogue: str) -> None:
    """Every column must be ``known`` to the catalogue and every number a finite real number in
    the column's ``value_range``; else :class:`ConfigError` naming the params key.

    A check only: the select stage applies the selection, so reading it here makes no stage that
    downloads depend on it (a threshold edit never re-downloads).
    """
    with not_a_dependency():
        terms = all_terms(selection, path)
    for term in terms:
        if not known(term.column):
            raise ConfigError(f"{term.param}: {term.column!r} is not a column of {catalogue}")
        value = term.value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"{term.param}: {value!r} is not a finite number")
        low, high = value_range(term.column)
        if not low <= value <= high:
            raise ConfigError(f"{term.param}: {value!r} is out of range for {term.column!r} [{low}, {high}]")
