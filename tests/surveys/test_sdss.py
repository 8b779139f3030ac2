"""The SDSS DR17 source against the loopback SkyServer: the whole table in pages, checked rules, cutouts."""
from __future__ import annotations

import re

import pandas as pd
import pytest
import yaml

from pipeline.config import ConfigError, read_params
from pipeline.surveys import schemas, sdss_sql
from stages import catalogue as catalogue_stage
from tests.mirror.fixtures import ROOT, catalogue_unmoved_by, mirror, selected_of, source_of, surveys  # noqa: F401 - pytest fixtures
from tests.mirror.catalogues import SDSS_BIG_SPECOBJID, float32_text
from tests.mirror.skyserver import cutout_path

RULES = {"p_el": 0.8, "p_edge": 0.8, "p_cw": 0.8, "p_acw": 0.8}


def expected_candidates(table: pd.DataFrame) -> set[int]:
    passes = (table[list(RULES)] >= 0.8).any(axis=1) & (table["clean"] == 1) & (table["nvote"] > 20)
    return set(table.loc[passes, schemas.ZOONOSPEC_ID])


def test_the_catalogue_is_the_whole_table_run_in_pages_and_select_applies_table_1(surveys, tmp_path):  # noqa: F811
    block = surveys.source_params()["sdss"]
    table = source_of("sdss", block).fetch_catalogue(tmp_path)
    assert set(table[schemas.ZOONOSPEC_ID]) == set(surveys.sdss.table[schemas.ZOONOSPEC_ID])
    assert list(table.columns) == [*schemas.ZOONOSPEC_COLUMNS, schemas.GALAXY_CLEAN]
    assert pd.read_parquet(tmp_path / "catalogue.parquet").equals(table)
    queries = surveys.sql.queries
    # full pages, the short one, and the empty page that proves the end (issue 8)
    assert len(queries) == len(table) // 10 + 2 and all("SELECT TOP 10 " in q for q in queries)
    assert "WHERE" not in queries[0] and all(re.search(r"WHERE z\.objid > \d+ ORDER BY z\.objid$", q)
                                             for q in queries[1:])
    selected = selected_of("sdss", block, table)
    assert set(selected["id"]) == {str(i) for i in expected_candidates(surveys.sdss.table)}


def test_a_threshold_or_filter_edit_sends_the_same_queries_and_gets_the_same_catalogue(surveys, tmp_path):  # noqa: F811
    def loosened(block: dict) -> None:
        block["selection"]["rules"]["elliptical"][0]["p_el"] = 0.7
        block["selection"]["filters"] = [{"column": "nvote", "op": ">", "value": 5}]

    catalogue_unmoved_by("sdss", surveys.source_params()["sdss"], loosened, tmp_path)
    queries = surveys.sql.queries
    assert queries[:len(queries) // 2] == queries[len(queries) // 2:]


def test_selected_galaxies_get_128px_cutouts_at_0p2_arcsec(surveys, tmp_path):  # noqa: F811
    block = surveys.source_params()["sdss"]
    source = source_of("sdss", block)
    selected = selected_of("sdss", block, source.fetch_catalogue(tmp_path))
    surveys.mirror.inject(cutout_path(17), "503_html", "truncated")
    manifest = source.fetch_images(selected, tmp_path, tmp_path / "images_out")
    assert (manifest["status"] == "ok").all() and len(manifest) == len(selected)
    cutouts = surveys.mirror.requests(cutout_path(17))
    assert {(r.query["scale"], r.query["width"], r.query["height"]) for r in cutouts} == {("0.2", "128", "128")}
    assert len(cutouts) == len(selected) + 2
    assert source.image_identity() == {"kind": "sdss", "data_release": 17, "scale_arcsec": 0.2, "size": 128}


@pytest.mark.parametrize("edit, message", [
    (lambda b: b["selection"]["rules"]["spiral"].append({"p_spiralclock": 0.8}),
     r"survey.sdss.selection.rules.spiral.2.p_spiralclock: 'p_spiralclock' is not a column of zooNoSpec x Galaxy"),
    (lambda b: b["selection"]["filters"].append({"column": "nvote", "op": ">", "value": -3}),
     r"survey.sdss.selection.filters.2: -3.0 is out of range for 'nvote'"),
    (lambda b: b["selection"]["filters"].append({"column": "nvote", "op": ">", "value": float("nan")}),
     r"survey.sdss.selection.filters.2: nan is not a finite number"),
    (lambda b: b["selection"]["filters"].append({"column": "objid; DROP TABLE Galaxy", "op": ">", "value": 1}),
     r"'objid; DROP TABLE Galaxy' is not a column"),
])
def test_bad_columns_and_numbers_are_rejected_before_any_request(surveys, edit, message):  # noqa: F811
    with pytest.raises(ConfigError, match=message):
        source_of("sdss", surveys.source_params()["sdss"], edit)
    assert surveys.mirror.requests() == []


@pytest.mark.parametrize("threshold, message", [
    ("high", r"survey.sdss.selection.rules.elliptical.0.p_el: expected a number, got 'high'"),
    (1.5, r"survey.sdss.selection.rules.elliptical.0.p_el: 1.5 must lie in \[0, 1\]"),
])
def test_the_catalogue_stage_reports_a_bad_threshold_in_one_line(surveys, tmp_path, monkeypatch, capsys,  # noqa: F811
                                                                 threshold, message):
    params = read_params(ROOT / "params.yaml")
    params["survey"]["sdss"]["source"] = surveys.source_params()["sdss"]
    params["survey"]["sdss"]["selection"]["rules"]["elliptical"][0]["p_el"] = threshold
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        catalogue_stage.main(["sdss"])
    assert exit_info.value.code == 2
    assert re.search(message, capsys.readouterr().err)
    assert surveys.mirror.requests() == []


def test_every_column_a_rule_may_compare_is_one_the_query_fetches():
    assert set(sdss_sql.COMPARABLE) <= set(sdss_sql.SELECTED)
    assert sdss_sql.page_sql(5, None) == (
        "SELECT TOP 5 z.specobjid, z.objid, z.dr7objid, g.ra, g.dec, z.rastring, z.nvote, z.p_el, z.p_cw, "
        "z.p_acw, z.p_edge, z.p_dk, z.p_mg, z.p_cs, g.clean FROM zooNoSpec AS z JOIN Galaxy AS g "
        "ON g.objid = z.objid ORDER BY z.objid")


def test_cutouts_are_centred_on_galaxys_float64_positions_not_zoonospecs_float32(surveys, tmp_path):  # noqa: F811
    """zooNoSpec prints ra, dec as float32 (7 digits, up to ~0.36" off); the mirror draws each
    galaxy only at its exact position, so a cutout from those would show empty sky."""
    block = surveys.source_params()["sdss"]
    source = source_of("sdss", block)
    table = source.fetch_catalogue(tmp_path)
    truth = surveys.sdss.table.set_index(schemas.ZOONOSPEC_ID)
    assert table.set_index(schemas.ZOONOSPEC_ID)[["ra", "dec"]].equals(truth[["ra", "dec"]].sort_index())  # bit for bit
    assert (float32_text(truth["ra"]) != truth["ra"]).all()  # the mirror's zooNoSpec differs everywhere
    selected = selected_of("sdss", block, table)
    manifest = source.fetch_images(selected, tmp_path, tmp_path / "images_out")
    assert (manifest["status"] == "ok").all()
    centres = {(r.query["ra"], r.query["dec"]) for r in surveys.mirror.requests(cutout_path(17))}
    expected = {(f"{truth.loc[int(i), 'ra']:.6f}", f"{truth.loc[int(i), 'dec']:.6f}") for i in selected["id"]}
    assert centres == expected and centres <= set(surveys.sdss.positions)


def test_ids_are_exact_and_a_specobjid_above_int64_survives(surveys, tmp_path):  # noqa: F811
    table = source_of("sdss", surveys.source_params()["sdss"]).fetch_catalogue(tmp_path)
    truth = surveys.sdss.table
    assert table[schemas.ZOONOSPEC_ID].dtype == table["dr7objid"].dtype == "int64"
    assert table[schemas.ZOONOSPEC_ID].tolist() == sorted(truth[schemas.ZOONOSPEC_ID])
    assert set(table["dr7objid"]) == set(truth["dr7objid"])
    specobjids = dict(zip(table[schemas.ZOONOSPEC_ID], table["specobjid"]))
    assert specobjids == dict(zip(truth[schemas.ZOONOSPEC_ID], truth["specobjid"]))  # text, every digit
    assert {v for v in specobjids.values() if int(v) > SDSS_BIG_SPECOBJID} and "0" in specobjids.values()
    saved = pd.read_parquet(tmp_path / "catalogue.parquet")
    assert saved["specobjid"].tolist() == table["specobjid"].tolist()
