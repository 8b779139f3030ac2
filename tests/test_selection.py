import numpy as np
import pandas as pd
import pytest

from pipeline.config import parse
from pipeline.params import Selection
from pipeline.selection import SelectionError, select

CLASSES = ["elliptical", "edge_on", "spiral"]
SDSS = parse(Selection, {
    "rules": {"elliptical": [{"p_el": 0.8}], "edge_on": [{"p_edge": 0.8}],
              "spiral": [{"p_cw": 0.8}, {"p_acw": 0.8}]},
    "filters": [{"column": "clean", "op": "==", "value": 1}, {"column": "nvote", "op": ">", "value": 20}],
}, "survey.t.selection")


def _table(rows):
    cols = ["objid", "p_el", "p_edge", "p_cw", "p_acw", "clean", "nvote"]
    df = pd.DataFrame(rows, columns=cols)
    df["ra"], df["dec"] = 1.0, 2.0
    return df


def test_hand_counted_selection_with_values_exactly_at_thresholds():
    cat = _table([
        (1, 0.8, 0.0, 0.0, 0.0, 1, 30),    # elliptical, exactly at 0.8 -> in
        (2, 0.7999, 0.0, 0.0, 0.0, 1, 30),  # just below -> no class
        (3, 0.0, 0.8, 0.0, 0.0, 1, 21),    # edge_on; nvote 21 > 20 -> in
        (4, 0.0, 0.9, 0.0, 0.0, 1, 20),    # nvote 20 is not > 20 -> filtered
        (5, 0.0, 0.0, 0.8, 0.0, 1, 40),    # spiral via p_cw
        (6, 0.0, 0.0, 0.0, 0.85, 1, 40),   # spiral via p_acw
        (7, 0.9, 0.0, 0.0, 0.0, 0, 40),    # clean = 0 -> filtered
        (8, 0.8, 0.8, 0.0, 0.0, 1, 40),    # two classes -> dropped
        (9, 0.0, 0.0, 0.9, 0.9, 1, 40),    # two spiral alternatives, still one class -> spiral
    ])
    r = select(cat, SDSS, CLASSES, id_column="objid", survey="t")
    assert r.counts == {"elliptical": 1, "edge_on": 1, "spiral": 3}
    assert (r.n_filtered_out, r.n_no_class, r.n_multiple_classes) == (2, 1, 1)
    assert dict(zip(r.selected["id"], r.selected["label"])) == {
        "1": "elliptical", "3": "edge_on", "5": "spiral", "6": "spiral", "9": "spiral"}


def test_suffix_is_appended_to_rule_columns():
    sel = parse(Selection, {"suffix": "_debiased", "rules": {"a": [{"x": 0.5}], "b": [{"y": 0.5}]}}, "s")
    cat = pd.DataFrame({"id": [1, 2], "ra": 0.0, "dec": 0.0, "x_debiased": [0.6, 0.1],
                        "y_debiased": [0.0, 0.7], "x": [0.0, 0.0], "y": [0.0, 0.0]})
    assert select(cat, sel, ["a", "b"], id_column="id", survey="t").counts == {"a": 1, "b": 1}


def test_nan_fails_the_threshold():
    cat = _table([(1, np.nan, 0.9, 0, 0, 1, 30), (2, 0.9, np.nan, np.nan, 0.9, 1, 30),
                  (3, 0.9, np.nan, 0, 0, 1, 30), (4, np.nan, np.nan, np.nan, 0.9, 1, 30)])
    r = select(cat, SDSS, CLASSES, id_column="objid", survey="t")
    assert r.counts == {"elliptical": 1, "edge_on": 1, "spiral": 1}
    assert r.n_multiple_classes == 1  # row 2: elliptical and spiral


def test_empty_class_names_class_and_rule():
    cat = _table([(1, 0.9, 0.0, 0.0, 0.0, 1, 30), (2, 0.0, 0.9, 0.0, 0.0, 1, 30)])
    with pytest.raises(SelectionError, match=r"survey\.t\.selection\.rules\.spiral.*'spiral'"):
        select(cat, SDSS, CLASSES, id_column="objid", survey="t")


def test_missing_column_is_named():
    cat = _table([(1, 0.9, 0.0, 0.0, 0.0, 1, 30)]).drop(columns="p_acw")
    with pytest.raises(SelectionError, match="'p_acw' is not in the catalogue"):
        select(cat, SDSS, CLASSES, id_column="objid", survey="t")


def test_malformed_value_names_column_and_row():
    cat = _table([(1, 0.9, 0.0, 0.0, 0.0, 1, 30), (2, 0.9, 0.0, 0.0, 0.0, 1, 30)])
    cat["p_edge"] = cat["p_edge"].astype(object)
    cat.loc[1, "p_edge"] = "n/a"
    with pytest.raises(SelectionError, match="'p_edge' row 1 holds non-numeric 'n/a'"):
        select(cat, SDSS, CLASSES, id_column="objid", survey="t")


def test_duplicate_id_is_an_error():
    cat = _table([(1, 0.9, 0.0, 0.0, 0.0, 1, 30), (1, 0.0, 0.9, 0.0, 0.0, 1, 30)])
    with pytest.raises(SelectionError, match="id '1' appears twice"):
        select(cat, SDSS, CLASSES, id_column="objid", survey="t")
