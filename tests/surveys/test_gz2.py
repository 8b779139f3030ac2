"""The GZ2 source against the loopback mirror: the whole Hart16 table, cutout scale, Zenodo archive."""
from __future__ import annotations

import gzip
import io
import sqlite3
import zipfile
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import pytest
import requests

from pipeline.config import ConfigError, read_params
from pipeline.download.errors import DownloadError
from pipeline.surveys import schemas
from pipeline.surveys.gz2_petro import box_sql, separation_arcsec
from tests.mirror.catalogues import GZ2_UNUSED
from tests.mirror.fixtures import ROOT, catalogue_unmoved_by, mirror, selected_of, source_of, surveys  # noqa: F401 - pytest fixtures
from tests.mirror.server import Mirror
from tests.mirror.skyserver import cutout_path, sql_path
from tests.mirror.surveys import COUNTS, GZ2_CATALOGUE, GZ2_MAPPING, GZ2_ZIP, SurveyMirror

META = [schemas.HART16_ID, "ra", "dec", "gz2_class"]


def test_the_catalogue_is_the_whole_table_whatever_the_selection(surveys, tmp_path):  # noqa: F811
    def loosened(block: dict) -> None:
        block["selection"]["suffix"] = "_debiased"
        block["selection"]["rules"]["elliptical"][0]["t01_smooth_or_features_a01_smooth"] = 0.5

    table = catalogue_unmoved_by("gz2", surveys.source_params()["gz2"], loosened, tmp_path)
    pd.testing.assert_frame_equal(table, surveys.gz2.table)  # every column, every variant
    assert list(table.columns[:4]) == META and set(GZ2_UNUSED) <= set(table.columns)
    assert table[schemas.HART16_ID].dtype == "int64"


def test_a_misspelt_column_is_rejected_before_any_request(surveys):  # noqa: F811
    def typo(block: dict) -> None:
        block["selection"]["rules"]["edge_on"][0]["t02_edgeon_a04_yess"] = 0.7

    with pytest.raises(ConfigError, match=r"rules.edge_on.0.t02_edgeon_a04_yess: 't02_edgeon_a04_yess_fraction' "
                                          r"is not a column of gz2_hart16"):
        source_of("gz2", surveys.source_params()["gz2"], typo)
    assert surveys.mirror.requests() == []


def test_cutouts_are_scaled_to_petror90_and_a_rerun_asks_for_nothing(surveys, tmp_path):  # noqa: F811
    block = surveys.source_params()["gz2"]
    source = source_of("gz2", block)
    selected = selected_of("gz2", block, source.fetch_catalogue(tmp_path))
    manifest = source.fetch_images(selected, tmp_path, tmp_path / "out")
    assert (manifest["status"] == "ok").all() and len(manifest) == 24
    radius = dict(zip(surveys.photometry["dr7objid"], surveys.photometry["petroR90_r"]))
    for request in surveys.mirror.requests(cutout_path(17)):
        galaxy = next(i for i in selected.itertuples() if f"{i.ra:.6f}" == request.query["ra"])
        assert float(request.query["scale"]) == pytest.approx(0.02 * radius[int(galaxy.id)], rel=1e-5)
        assert request.query["width"] == request.query["height"] == "424"
    petro_queries = [r.query for r in surveys.mirror.requests(sql_path(17)) if "PhotoObjDR7" in r.query["cmd"]]
    assert len(petro_queries) > 1 and all(len(urlencode(q)) <= 400 for q in petro_queries)  # max_query_chars
    surveys.mirror.clear_log()
    source.fetch_images(selected, tmp_path, tmp_path / "out")
    assert surveys.mirror.requests() == []


def test_archive_mode_reads_the_published_images(surveys, tmp_path):  # noqa: F811
    surveys.add_archives()
    block = surveys.source_params(images_mode="archive")["gz2"]
    source = source_of("gz2", block)
    selected = selected_of("gz2", block, source.fetch_catalogue(tmp_path))
    mapping = pd.read_csv(surveys.mirror.url + GZ2_MAPPING, dtype=str)
    dropped = selected["id"].iloc[0]
    surveys.mirror.serve_bytes(GZ2_MAPPING, mapping[mapping["objid"] != dropped].to_csv(index=False).encode())
    manifest = source.fetch_images(selected, tmp_path, tmp_path / "out").set_index("id")
    assert manifest.loc[dropped, "reason"] == "no asset_id in gz2_filename_mapping.csv"
    assert (manifest.drop(index=dropped)["status"] == "ok").all()
    archive = zipfile.ZipFile(io.BytesIO(requests.get(surveys.mirror.url + GZ2_ZIP).content))
    asset = mapping.set_index("objid")["asset_id"]
    for galaxy_id in manifest.drop(index=dropped).index:
        fetched = (tmp_path / "out" / "images" / f"{galaxy_id}.jpg").read_bytes()
        assert fetched == archive.read(f"images/{asset[galaxy_id]}.jpg")


def test_a_gzip_catalogue_cut_short_is_fetched_again_or_reported_as_cut_short(surveys, tmp_path):  # noqa: F811
    """The gzip trailer shows what a close-delimited body hides: retried, then a clear error."""
    block = surveys.source_params()["gz2"]
    surveys.mirror.inject(GZ2_CATALOGUE, "truncated_unannounced")
    pd.testing.assert_frame_equal(source_of("gz2", block).fetch_catalogue(tmp_path), surveys.gz2.table)
    (tmp_path / "catalogue.parquet").unlink()
    surveys.mirror.inject(GZ2_CATALOGUE, *["truncated_unannounced"] * 4)
    with pytest.raises(DownloadError, match=r"^gz2_hart16.csv.gz: the gzip stream is cut short \(the download "
                                            r"ended early\) \(gave up after 4 attempts\)$"):
        source_of("gz2", block).fetch_catalogue(tmp_path)
    assert list(tmp_path.iterdir()) == []


def archive_images(surveys) -> zipfile.ZipFile:  # noqa: F811
    return zipfile.ZipFile(io.BytesIO(requests.get(surveys.mirror.url + GZ2_ZIP).content))


def test_archive_mode_reads_a_macos_zip_with_a_wrapped_count(surveys, tmp_path):  # noqa: F811
    """images_gz2.zip as macOS tools write it (issue 9): every image is found past the wrapped count."""
    surveys.add_archives(("gz2",), macos_zip=True)
    block = surveys.source_params(images_mode="archive")["gz2"]
    source = source_of("gz2", block)
    selected = selected_of("gz2", block, source.fetch_catalogue(tmp_path))
    manifest = source.fetch_images(selected, tmp_path, tmp_path / "out")
    assert (manifest["status"] == "ok").all() and len(manifest) == len(selected)
    archive = archive_images(surveys)
    assert len(archive.infolist()) > 0xFFFF
    for galaxy_id in manifest["id"]:
        fetched = (tmp_path / "out" / "images" / f"{galaxy_id}.jpg").read_bytes()
        assert fetched == archive.read(f"images/{surveys.gz2_assets[galaxy_id]}.jpg")


def test_an_objid_listed_under_several_samples_gets_the_image_the_zip_holds(surveys, tmp_path, capsys):  # noqa: F811
    """Duplicate mapping rows (issue 9): the image in the zip, 'original' first, then the lowest
    asset_id; the ambiguous ids are reported; a rerun asks for nothing."""
    surveys.add_archives(("gz2",), duplicate_mapping=True)
    block = surveys.source_params(images_mode="archive")["gz2"]
    source = source_of("gz2", block)
    selected = selected_of("gz2", block, source.fetch_catalogue(tmp_path))
    mapping = pd.read_csv(surveys.mirror.url + GZ2_MAPPING, dtype=str)
    assert mapping["objid"].duplicated().any()
    manifest = source.fetch_images(selected, tmp_path, tmp_path / "out")
    assert (manifest["status"] == "ok").all() and len(manifest) == len(selected)
    archive = archive_images(surveys)
    for galaxy_id in manifest["id"]:
        fetched = (tmp_path / "out" / "images" / f"{galaxy_id}.jpg").read_bytes()
        assert fetched == archive.read(f"images/{surveys.gz2_assets[galaxy_id]}.jpg")
    several = mapping.groupby("objid")["asset_id"].apply(
        lambda assets: sum(f"images/{a}.jpg" in archive.namelist() for a in assets) > 1)
    ambiguous = [i for i in manifest["id"] if several[i]]
    assert ambiguous and f"gz2 archive: {len(ambiguous)} objids have several images in the archive" in capsys.readouterr().out
    surveys.mirror.clear_log()
    source.fetch_images(selected, tmp_path, tmp_path / "out")
    assert surveys.mirror.requests() == []


def test_radius_queries_pass_a_strict_skyserver_at_the_params_limit(tmp_path):
    """SkyServer refuses query strings above 2,048 characters (ASP.NET's default): with
    params.yaml's max_query_chars, 150 galaxies' radii take several queries, none refused."""
    limit = read_params(ROOT / "params.yaml")["survey"]["gz2"]["source"]["images"]["cutout"]["max_query_chars"]
    counts = {**COUNTS, "gz2": {"elliptical": 50, "edge_on": 50, "spiral": 50}}
    with Mirror(hang_s=1.0, max_query_chars=2048) as mirror:
        surveys = SurveyMirror(mirror, counts=counts)
        block = surveys.source_params()["gz2"]
        block["images"]["cutout"]["max_query_chars"] = limit
        source = source_of("gz2", block)
        selected = selected_of("gz2", block, source.fetch_catalogue(tmp_path))
        manifest = source.fetch_images(selected, tmp_path, tmp_path / "out")
        assert (manifest["status"] == "ok").all() and len(manifest) == 150
        petro = [r for r in mirror.requests(sql_path(17)) if "PhotoObjDR7" in r.query["cmd"]]
        assert len(petro) == 2  # filled up to the limit: 150 ids of 19 digits in two
        asked = [i for r in petro for i in r.query["cmd"].rpartition("(")[2].rstrip(")").split(",")]
        assert sorted(asked) == sorted(str(i) for i in selected["id"])  # each id once


def test_a_strict_skyserver_refuses_a_long_query_with_its_error_page(tmp_path):
    with Mirror(max_query_chars=2048) as mirror:
        long = requests.get(mirror.url + sql_path(17), params={"cmd": "SELECT 1," + "1" * 2048})
        assert long.status_code == 404 and "query string is too long" in long.text
        assert requests.get(mirror.url + sql_path(17), params={"cmd": "SELECT 1"}).status_code == 404  # no handler


def test_a_limit_without_room_for_one_id_is_rejected(surveys):  # noqa: F811
    def tight(block: dict) -> None:
        block["source"]["images"]["cutout"]["max_query_chars"] = 150

    with pytest.raises(ConfigError, match=r"survey.gz2.source.images.cutout.max_query_chars: 150 leaves no room "
                                          r"for one id: must be at least \d+"):
        source_of("gz2", surveys.source_params()["gz2"], tight)


def test_stripe82_galaxies_take_the_radius_of_the_nearest_object_at_their_position(tmp_path, capsys):
    """Stripe 82 rows (issue 9): dr7objids unknown to PhotoObjDR7 get the radius of the nearest
    PhotoObj object around their position (the neighbour 3" away is within the 5" asked for here),
    in box queries within the strict server's limit, each galaxy asked once; a rerun asks nothing."""
    limit = read_params(ROOT / "params.yaml")["survey"]["gz2"]["source"]["images"]["cutout"]["max_query_chars"]
    counts = {**COUNTS, "gz2": {"elliptical": 40, "edge_on": 40, "spiral": 40}}
    with Mirror(hang_s=1.0, max_query_chars=2048) as mirror:
        surveys = SurveyMirror(mirror, counts=counts, stripe82_share=0.2)
        block = surveys.source_params()["gz2"]
        block["images"]["cutout"].update(max_query_chars=limit, match_arcsec=5.0)
        source = source_of("gz2", block)
        selected = selected_of("gz2", block, source.fetch_catalogue(tmp_path))
        manifest = source.fetch_images(selected, tmp_path, tmp_path / "out")
        assert (manifest["status"] == "ok").all() and len(manifest) == len(selected) == 120
        sample = surveys.gz2.table.set_index(schemas.HART16_ID)["sample"]
        stripe82 = {int(i) for i in selected["id"] if sample[int(i)] == "stripe82"}
        assert len(stripe82) == 24
        radius = dict(zip(surveys.photometry["dr7objid"], surveys.photometry["petroR90_r"]))
        scaled = set()
        for request in mirror.requests(cutout_path(17)):
            galaxy = next(i for i in selected.itertuples()
                          if (f"{i.ra:.6f}", f"{i.dec:.6f}") == (request.query["ra"], request.query["dec"]))
            assert float(request.query["scale"]) == pytest.approx(0.02 * radius[int(galaxy.id)], rel=1e-5)
            scaled.add(int(galaxy.id))
        assert stripe82 <= scaled
        by_position = [r.query for r in mirror.requests(sql_path(17)) if "FROM PhotoObj WHERE" in r.query["cmd"]]
        assert len(by_position) > 1 and all(len(urlencode(q)) <= limit for q in by_position)
        assert sum(q["cmd"].count("(dec BETWEEN") for q in by_position) == len(stripe82)  # each once
        assert "gz2 cutout: 24 petroR90_r by position in SkyServer PhotoObj" in capsys.readouterr().out
        mirror.clear_log()
        source.fetch_images(selected, tmp_path, tmp_path / "out")
        assert mirror.requests() == []


def test_a_stripe82_galaxy_with_no_object_near_its_position_is_missing_with_the_reason(tmp_path):
    with Mirror(hang_s=1.0) as mirror:
        surveys = SurveyMirror(mirror, stripe82_share=0.2)
        block = surveys.source_params()["gz2"]
        source = source_of("gz2", block)
        table = surveys.gz2.table.copy()
        selected = selected_of("gz2", block, table)
        sample = table.set_index(schemas.HART16_ID)["sample"]
        lost = next(int(i) for i in selected["id"] if sample[int(i)] == "stripe82")
        table.loc[table[schemas.HART16_ID] == lost, "dec"] += 1.5 / 3600  # nearest object 1.4" away (> 1")
        mirror.serve_bytes(GZ2_CATALOGUE, gzip.compress(table.to_csv(index=False).encode()), "application/x-gzip")
        selected = selected_of("gz2", block, source.fetch_catalogue(tmp_path))
        manifest = source.fetch_images(selected, tmp_path, tmp_path / "out").set_index("id")
        assert manifest.loc[str(lost), "status"] == "failed"
        assert manifest.loc[str(lost), "reason"] == ("no petroR90_r for this dr7objid in SkyServer PhotoObjDR7, nor an "
                                                     "object within 1 arcsec of its position in PhotoObj")
        assert (manifest.drop(index=str(lost))["status"] == "ok").all()


def test_a_match_tolerance_that_is_not_positive_is_rejected(surveys):  # noqa: F811
    def zero(block: dict) -> None:
        block["source"]["images"]["cutout"]["match_arcsec"] = 0

    with pytest.raises(ConfigError, match=r"survey.gz2.source.images.cutout.match_arcsec"):
        source_of("gz2", surveys.source_params()["gz2"], zero)


@pytest.mark.parametrize("ra, dec", [(0.00005, -1.0), (359.9999, 30.0), (200.0, 60.0), (10.0, 89.9999)])
def test_a_position_box_holds_every_object_within_the_tolerance(ra, dec):
    """On the sphere: the RA range widens as 1 / cos(dec), wraps at 0/360 and opens at a pole;
    the separation counts RA by cos(dec).  The box runs on SQLite, as in the mirror."""
    angles = np.linspace(0, 2 * np.pi, 32, endpoint=False)
    inside, outside = offset_circle(ra, dec, 0.99, angles), offset_circle(ra, dec, 1.5, angles)
    db = sqlite3.connect(":memory:")
    pd.DataFrame({"ra": inside[0], "dec": inside[1]}).to_sql("PhotoObj", db, index=False)
    assert db.execute(f"SELECT count(*) FROM PhotoObj WHERE {box_sql(ra, dec, 1.0)}").fetchone()[0] == 32
    if abs(dec) < 89:  # the flat offsets below hold away from a pole
        assert separation_arcsec(ra, dec, *inside) == pytest.approx(np.full(32, 0.99), rel=1e-3)
        assert (separation_arcsec(ra, dec, *outside) > 1.0).all()


def offset_circle(ra: float, dec: float, arcsec: float, angles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points ``arcsec`` from (ra, dec) (flat sky: east scaled by 1 / cos dec; RA in [0, 360))."""
    north = dec + arcsec * np.sin(angles) / 3600
    if abs(dec) >= 89:  # at the pole: along the meridian through it, past it at RA + 180
        over = north > 90
        return np.where(over, (ra + 180) % 360, ra), np.where(over, 180 - north, north)
    return (ra + arcsec * np.cos(angles) / 3600 / np.cos(np.radians(dec))) % 360, north


def test_a_limit_without_room_for_one_position_is_rejected(surveys):  # noqa: F811
    def tight(block: dict) -> None:
        block["source"]["images"]["cutout"]["max_query_chars"] = 190  # room for one id, not one box

    with pytest.raises(ConfigError, match=r"survey.gz2.source.images.cutout.max_query_chars: 190 leaves no room "
                                          r"for one position: must be at least \d+"):
        source_of("gz2", surveys.source_params()["gz2"], tight)
