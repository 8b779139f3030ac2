"""Vote-fraction threshold selection (paper Sect. 2, Table 1).

Each galaxy gets the canonical class whose rule it passes.  A galaxy that passes no rule or
more than one is dropped and counted; a class left empty is an error naming the class and rule.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.errors import InputError
from pipeline.params import Selection

_OPS = {">=": operator.ge, ">": operator.gt, "==": operator.eq, "<=": operator.le, "<": operator.lt}


class SelectionError(InputError, ValueError):
    """The catalogue cannot be selected as the params say (missing column, empty class)."""


@dataclass(frozen=True)
class SelectionResult:
    selected: pd.DataFrame      # id, label, ra, dec, plus every rule column
    counts: dict[str, int]      # per class, after dropping ambiguous galaxies
    n_catalogue: int
    n_filtered_out: int         # failed a global filter (e.g. SDSS clean, nvote)
    n_no_class: int
    n_multiple_classes: int


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


def select(catalogue: pd.DataFrame, selection: Selection, classes: list[str], *,
           id_column: str, survey: str) -> SelectionResult:
    """Apply ``selection`` to ``catalogue``; labels are canonical class names.

    Comparisons are ``>=`` against each threshold (DESIGN sect. 1); a missing value (NaN)
    fails the comparison, as the task was never asked of that galaxy.
    """
    where = f"survey.{survey}.selection"
    for col in (id_column, "ra", "dec"):
        if col not in catalogue.columns:
            raise SelectionError(f"{where}: catalogue lacks required column {col!r}")
    dup = catalogue[id_column].duplicated()
    if dup.any():
        row = int(np.flatnonzero(dup.to_numpy())[0])
        raise SelectionError(f"{where}: id {str(catalogue[id_column].iloc[row])!r} appears twice "
                             f"(second time at row {row})")
    keep = np.ones(len(catalogue), dtype=bool)
    for i, flt in enumerate(selection.filters):
        values = _numeric(catalogue, flt.column, f"{where}.filters.{i}")
        keep &= _OPS[flt.op](values, flt.value).to_numpy()

    passes = {}
    for cls in classes:
        hit = np.zeros(len(catalogue), dtype=bool)
        for j, alt in enumerate(selection.rules[cls]):
            alt_hit = np.ones(len(catalogue), dtype=bool)
            for column, threshold in alt.items():
                full = f"{column}{selection.suffix}"
                values = _numeric(catalogue, full, f"{where}.rules.{cls}.{j}.{column}")
                alt_hit &= (values >= threshold).to_numpy()
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
        n_filtered_out=int(np.sum(~keep)),
        n_no_class=int(np.sum(keep & (n_hits == 0))),
        n_multiple_classes=int(np.sum(n_hits > 1)),
    )
