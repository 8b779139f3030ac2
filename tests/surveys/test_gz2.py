"""The GZ2 source against the loopback mirror: the whole Hart16 table, cutout scale, Zenodo archive."""
from __future__ import annotations

import io
import zipfile

import pandas as pd
import pytest
import requests

from pipeline.config import ConfigError
from pipeline.download.errors import DownloadError
from pipeline.surveys import schemas
from tests.mirror.catalogues import GZ2_UNUSED
from tests.mirror.fixtures import catalogue_unmoved_by, mirror, selected_of, source_of, surveys  # noqa: F401 - pytest fixtures
from tests.mirror.skyserver import cutout_path
from tests.mirror.surveys import GZ2_CATALOGUE, GZ2_MAPPING, GZ2_ZIP

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
    petro_queries = [q for q in surveys.sql.queries if "PhotoObjDR7" in q]
    assert len(petro_queries) > 1 and all(len(q) <= 400 for q in petro_queries)  # max_sql_chars
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
