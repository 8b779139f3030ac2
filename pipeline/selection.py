"""Vote-fraction threshold selection (paper Sect. 2, Table 1).

Each galaxy gets the canonical class whose rule it passes.  A galaxy that passes no rule or
more than one is dropped and counted; a class left empty is an error naming the class and rule.

Every rule column is a vote fraction, so a value outside [0, 1] is a broken row (or a column
that holds counts or percentages): such rows are dropped before the filters and rules and
reported with their ids, and more of them than ``max_invalid_fraction`` of the catalogue stops
the stage.  A missing value (NaN) is a question never asked of that galaxy: it fails the
comparison and is counted per column.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipeline.errors import InputError
from pipeline.params import Selection

_OPS = {">=": operator.ge, ">": operator.gt, "==": operator.eq, "<=": operator.le, "<": operator.lt}
EXAMPLES = 5  # out-of-range values named in the report: enough to find the pattern, short to read


class SelectionError(InputError, ValueError):
    """The catalogue cannot be selected as the params say (missing column, empty class, too many
    vote fractions outside [0, 1])."""


@dataclass(frozen=True)
class SelectionResult:
    selected: pd.DataFrame      # id, label, ra, dec, plus every rule column
    counts: dict[str, int]      # per class, after dropping ambiguous galaxies
    n_catalogue: int
    n_out_of_range: int         # a rule column outside [0, 1]; dropped before the filters
    n_filtered_out: int         # failed a global filter (e.g. SDSS clean, nvote)
    n_no_class: int
    n_multiple_classes: int
    out_of_range_by_column: dict[str, int]        # only columns with such values
    out_of_range_examples: list[dict[str, Any]]   # the first few: id, column, value
    nan_by_column: dict[str, int]                 # every filter and rule column read


def rule_columns(selection: Selection) -> list[str]:
    """Every catalogue column the rules read, suffix applied, in first-use order."""
    cols: dict[str, None] = {}
    for alternatives in selection.rules.values():
        for alt in alternatives:
            cols.update({f"{c}{selection.suffix}": None for c in alt})
    return list(cols)


def _numeric(catalogue: pd.DataFrame, column: str, where: str) -> pd.Series:
    if column not in catalogue.columns:
        raise SelectionError(f"{where}: column {column!r} is not in the catalogue "
                             f"(it has {len(catalogue.columns)} columns, e.g. {list(catalogue.columns[:6])})")
    values = pd.to_numeric(catalogue[column], errors="coerce")
    bad = values.isna() & catalogue[column].notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise SelectionError(f"{where}: column {column!r} row {row} holds non-numeric "
                             f"{catalogue[column].iloc[row]!r}")
    return values


def _examples(bad: dict[str, np.ndarray], fractions: dict[str, pd.Series],
              ids: pd.Series) -> list[dict[str, Any]]:
    """The first ``EXAMPLES`` out-of-range values in row order, each with its id and column."""
    found = []
    for row in np.flatnonzero(np.logical_or.reduce(list(bad.values()))):
        found += [{"id": str(ids.iloc[row]), "column": col, "value": float(fractions[col].iloc[row])}
                  for col, rows in bad.items() if rows[row]]
        if len(found) >= EXAMPLES:
            break
    return found[:EXAMPLES]


def describe_out_of_range(by_column: dict[str, int], examples: list[dict[str, Any]]) -> str:
    """One line: how many rows per column and the first values, e.g. for the stage's report."""
    counts = ", ".join(f"{col} {n} row{'s' * (n != 1)}" for col, n in by_column.items())
    shown = ", ".join(f"id {e['id']!r} {e['column']} = {e['value']:g}" for e in examples)
    return f"{counts}; e.g. {shown}"


def _rule_fractions(catalogue: pd.DataFrame, selection: Selection, classes: list[str],
                    where: str) -> dict[str, pd.Series]:
    """Every rule column (suffix applied) as numbers, in first-use order; a missing or
    non-numeric column is an error naming the rule that reads it."""
    fractions: dict[str, pd.Series] = {}
    for cls in classes:
        for j, alt in enumerate(selection.rules[cls]):
            for column in alt:
                full = f"{column}{selection.suffix}"
                if full not in fractions:
                    fractions[full] = _numeric(catalogue, full, f"{where}.rules.{cls}.{j}.{column}")
    return fractions


def _out_of_range(fractions: dict[str, pd.Series], ids: pd.Series, selection: Selection,
                  survey: str) -> tuple[np.ndarray, dict[str, int], list[dict[str, Any]]]:
    """Rows with a fraction outside [0, 1], their count per column and the first few values;
    :class:`SelectionError` when they are more than ``max_invalid_fraction`` of the catalogue."""
    # NaN is a missing answer, not an out-of-range one; +-inf is out of range
    bad = {col: rows for col, values in fractions.items()
           if (rows := (values.notna() & ~values.between(0, 1)).to_numpy()).any()}
    out_of_range = np.logical_or.reduce([np.zeros(len(ids), dtype=bool), *bad.values()])
    by_column = {col: int(rows.sum()) for col, rows in bad.items()}
    examples = _examples(bad, fractions, ids) if bad else []
    n = int(out_of_range.sum())
    if n > selection.max_invalid_fraction * len(ids):
        raise SelectionError(
            f"survey.{survey}.selection.max_invalid_fraction: {n} of {len(ids)} galaxies of survey {survey} "
            f"hold a vote fraction outside [0, 1] ({describe_out_of_range(by_column, examples)}), more than "
            f"{selection.max_invalid_fraction:g} of the catalogue; are these columns fractions (not counts "
            f"or percentages)?")
    return out_of_range, by_column, examples


def select(catalogue: pd.DataFrame, selection: Selection, classes: list[str], *,
           id_column: str, survey: str) -> SelectionResult:
    """Apply ``selection`` to ``catalogue``; labels are canonical class names.

    Comparisons are ``>=`` against each threshold (DESIGN sect. 1); a missing value (NaN)
    fails the comparison, as the task was never asked of that galaxy.  Rows with a rule column
    outside [0, 1] are dropped first (:class:`SelectionError` above ``max_invalid_fraction``).
    """
    where = f"survey.{survey}.selection"
    for col in (id_column, "ra", "dec"):
        if col not in catalogue.columns:
            raise SelectionError(f"{where}: catalogue lacks required column {col!r}")
    ids = catalogue[id_column]
    dup = ids.duplicated()
    if dup.any():
        row = int(np.flatnonzero(dup.to_numpy())[0])
        raise SelectionError(f"{where}: id {str(ids.iloc[row])!r} appears twice "
                             f"(second time at row {row})")
    filters = [_numeric(catalogue, flt.column, f"{where}.filters.{i}") for i, flt in enumerate(selection.filters)]
    fractions = _rule_fractions(catalogue, selection, classes, where)
    nan_by_column = {flt.column: int(values.isna().sum()) for flt, values in zip(selection.filters, filters)}
    nan_by_column.update({col: int(values.isna().sum()) for col, values in fractions.items()})
    out_of_range, by_column, examples = _out_of_range(fractions, ids, selection, survey)

    passes_filters = np.ones(len(catalogue), dtype=bool)
    for flt, values in zip(selection.filters, filters):
        passes_filters &= _OPS[flt.op](values, flt.value).to_numpy()
    keep = ~out_of_range & passes_filters

    passes = {}
    for cls in classes:
        hit = np.zeros(len(catalogue), dtype=bool)
        for alt in selection.rules[cls]:
            alt_hit = np.ones(len(catalogue), dtype=bool)
            for column, threshold in alt.items():
                alt_hit &= (fractions[f"{column}{selection.suffix}"] >= threshold).to_numpy()
            hit |= alt_hit
        passes[cls] = hit & keep

    n_hits = np.sum(np.stack(list(passes.values())), axis=0)
    single = n_hits == 1
    labels = np.full(len(catalogue), "", dtype=object)
    for cls, hit in passes.items():
        labels[hit & single] = cls

    columns = [id_column, "ra", "dec", *[c for c in rule_columns(selection) if c not in (id_column, "ra", "dec")]]
    selected = catalogue.loc[single, columns].rename(columns={id_column: "id"}).copy()
    selected["id"] = selected["id"].astype(str)
    selected.insert(1, "label", labels[single].astype(str))
    selected = selected.reset_index(drop=True)
    counts = {cls: int(np.sum(passes[cls] & single)) for cls in classes}
    for cls, n in counts.items():
        if n == 0:
            raise SelectionError(f"{where}.rules.{cls}: no galaxy of class {cls!r} is left after "
                                 f"selection (rule: {list(selection.rules[cls])}, suffix "
                                 f"{selection.suffix!r}); loosen the thresholds or check the catalogue")
    return SelectionResult(
        selected=selected,
        counts=counts,
        n_catalogue=len(catalogue),
        n_out_of_range=int(out_of_range.sum()),
        n_filtered_out=int(np.sum(~out_of_range & ~passes_filters)),
        n_no_class=int(np.sum(keep & (n_hits == 0))),
        n_multiple_classes=int(np.sum(n_hits > 1)),
        out_of_range_by_column=by_column,
        out_of_range_examples=examples,
        nan_by_column=nan_by_column,
    )
