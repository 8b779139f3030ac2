import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline.config import ConfigError, parse
from pipeline.params import Selection
from pipeline.selection import SelectionError, select
from stages import catalogue as catalogue_stage
from stages import select as select_stage
from stages import shared as shared_stage

ROOT = Path(__file__).resolve().parents[1]

CLASSES = ["elliptical", "edge_on", "spiral"]
SDSS_BLOCK = {
    "rules": {"elliptical": [{"p_el": 0.8}], "edge_on": [{"p_edge": 0.8}],
              "spiral": [{"p_cw": 0.8}, {"p_acw": 0.8}]},
    "filters": [{"column": "clean", "op": "==", "value": 1}, {"column": "nvote", "op": ">", "value": 20}],
    "max_invalid_fraction": 0.0,
}
SDSS = parse(Selection, SDSS_BLOCK, "survey.t.selection")


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
    sel = parse(Selection, {"suffix": "_debiased", "rules": {"a": [{"x": 0.5}], "b": [{"y": 0.5}]},
                            "max_invalid_fraction": 0.0}, "s")
    cat = pd.DataFrame({"id": [1, 2], "ra": 0.0, "dec": 0.0, "x_debiased": [0.6, 0.1],
                        "y_debiased": [0.0, 0.7], "x": [0.0, 0.0], "y": [0.0, 0.0]})
    assert select(cat, sel, ["a", "b"], id_column="id", survey="t").counts == {"a": 1, "b": 1}


def test_nan_fails_the_threshold_and_is_counted_by_column():
    cat = _table([(1, np.nan, 0.9, 0, 0, 1, 30), (2, 0.9, np.nan, np.nan, 0.9, 1, 30),
                  (3, 0.9, np.nan, 0, 0, 1, 30), (4, np.nan, np.nan, np.nan, 0.9, 1, 30),
                  (5, 0.9, 0, 0, 0, 1, np.nan)])  # nvote unknown: fails the filter nvote > 20
    r = select(cat, SDSS, CLASSES, id_column="objid", survey="t")
    assert r.counts == {"elliptical": 1, "edge_on": 1, "spiral": 1}
    assert r.n_multiple_classes == 1  # row 2: elliptical and spiral
    assert (r.n_filtered_out, r.n_out_of_range) == (1, 0)
    assert r.nan_by_column == {"clean": 0, "nvote": 1, "p_el": 2, "p_edge": 3, "p_cw": 2, "p_acw": 0}


@pytest.mark.parametrize("change, message", [
    ({"max_invalid_fraction": 1.5}, r"max_invalid_fraction: 1.5 must lie in \[0, 1\]"),
    ({"max_invalid_fraction": None}, r"max_invalid_fraction: missing key"),
])
def test_max_invalid_fraction_is_a_fraction(change, message):
    block = {k: v for k, v in {**SDSS_BLOCK, **change}.items() if v is not None}
    with pytest.raises(ConfigError, match=r"^survey\.t\.selection\." + message):
        parse(Selection, block, "survey.t.selection")


OUT_OF_RANGE = [
    (1, 0.9, 0.0, 0.0, 0.0, 1, 30),   # elliptical
    (2, 1.7, 0.0, 0.0, 0.0, 1, 30),   # p_el 1.7: out of range (it would pass the elliptical rule)
    (3, 0.0, 0.9, 0.0, 0.0, 1, 30),   # edge_on
    (4, 0.0, -0.2, 0.9, 0.0, 1, 30),  # p_edge -0.2: out of range (it would be a spiral)
    (5, 0.0, 0.0, 0.9, 0.0, 1, 30),   # spiral
    (6, 0.9, 0.0, 0.0, 1.2, 0, 30),   # p_acw 1.2 and not clean: counted once, as out of range
    (7, 0.9, 0.0, 0.0, 0.0, 0, 30),   # not clean: filtered
]


def test_fractions_outside_0_1_drop_their_rows_which_are_reported_with_ids():
    sel = parse(Selection, {**SDSS_BLOCK, "max_invalid_fraction": 3 / 7}, "survey.t.selection")  # 3 of 7 allowed
    r = select(_table(OUT_OF_RANGE), sel, CLASSES, id_column="objid", survey="t")
    assert r.counts == {"elliptical": 1, "edge_on": 1, "spiral": 1}
    assert (r.n_out_of_range, r.n_filtered_out, r.n_no_class, r.n_multiple_classes) == (3, 1, 0, 0)
    assert len(r.selected) + r.n_out_of_range + r.n_filtered_out + r.n_no_class + r.n_multiple_classes == 7
    assert r.out_of_range_by_column == {"p_el": 1, "p_edge": 1, "p_acw": 1}
    assert r.out_of_range_examples == [{"id": "2", "column": "p_el", "value": 1.7},
                                       {"id": "4", "column": "p_edge", "value": -0.2},
                                       {"id": "6", "column": "p_acw", "value": 1.2}]


def test_more_fractions_outside_0_1_than_allowed_is_an_error_naming_column_count_and_ids():
    sel = parse(Selection, {**SDSS_BLOCK, "max_invalid_fraction": 0.4}, "survey.t.selection")  # 3/7 > 0.4
    cat = _table(OUT_OF_RANGE)
    cat.loc[0, "p_cw"] = np.inf  # infinite is outside [0, 1] too
    with pytest.raises(SelectionError, match=(
            r"^survey\.t\.selection\.max_invalid_fraction: 4 of 7 galaxies of survey t hold a vote fraction "
            r"outside \[0, 1\] \(p_el 1 row, p_edge 1 row, p_cw 1 row, p_acw 1 row; e\.g\. id '1' p_cw = inf, "
            r"id '2' p_el = 1\.7, id '4' p_edge = -0\.2, id '6' p_acw = 1\.2\), more than 0\.4 of the catalogue")):
        select(cat, sel, CLASSES, id_column="objid", survey="t")


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


def _run_stages(tmp_path: Path, monkeypatch, max_invalid_fraction: float) -> int:
    """The stages up to select of a ``local`` survey whose CSV holds the rows of OUT_OF_RANGE
    (row 1 without p_cw) and whose selection is SDSS's; the exit code."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    block = params["survey"]["local_example"]
    block["source"].update(catalogue="votes.csv", label_column=None)
    block["selection"] = {**SDSS_BLOCK, "max_invalid_fraction": max_invalid_fraction}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    cat = _table(OUT_OF_RANGE).rename(columns={"objid": block["source"]["id_column"]})
    cat.loc[0, "p_cw"] = np.nan
    cat.to_csv(tmp_path / "votes.csv", index=False)
    try:
        for stage in (shared_stage, catalogue_stage, select_stage):
            stage.main(["local_example"])
    except SystemExit as exc:
        return exc.code
    return 0


def test_select_stage_reports_out_of_range_rows_and_nan_counts(tmp_path, monkeypatch, capsys):
    assert _run_stages(tmp_path, monkeypatch, 0.5) == 0
    metrics = json.loads((tmp_path / "metrics/select/local_example.json").read_text())
    assert metrics["dropped"] == {"out_of_range": 3, "filtered_out": 1, "no_class": 0, "multiple_classes": 0}
    assert metrics["n_selected"] + sum(metrics["dropped"].values()) == metrics["n_catalogue"] == 7
    assert [(e["id"], e["column"], e["value"]) for e in metrics["out_of_range_examples"]] == [
        ("2", "p_el", 1.7), ("4", "p_edge", -0.2), ("6", "p_acw", 1.2)]
    assert metrics["nan_by_column"] == {"clean": 0, "nvote": 0, "p_el": 0, "p_edge": 0, "p_cw": 1, "p_acw": 0}
    out = capsys.readouterr().out
    assert ("local_example: dropped 3 galaxies with a vote fraction outside [0, 1]: p_el 1 row, p_edge 1 row, "
            "p_acw 1 row; e.g. id '2' p_el = 1.7, id '4' p_edge = -0.2, id '6' p_acw = 1.2\n") in out
    assert "local_example: missing values (NaN, fail their rule or filter) by column: p_cw 1\n" in out


def test_select_stage_stops_in_one_line_above_max_invalid_fraction(tmp_path, monkeypatch, capsys):
    assert _run_stages(tmp_path, monkeypatch, 0.25) == 2  # 3 of 7 out of range
    err = capsys.readouterr().err
    assert err.startswith("error: survey.local_example.selection.max_invalid_fraction: 3 of 7 galaxies of survey "
                          "local_example hold a vote fraction outside [0, 1] (p_el 1 row, ")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "data/select/local_example.parquet").exists()
