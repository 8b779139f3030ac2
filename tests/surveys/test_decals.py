"""The GZ DECaLS source against the loopback mirror: the whole table, DR1/2 naming, pixscale rule, png zips."""
from __future__ import annotations

import zipfile

import pandas as pd
import pytest

from pipeline.download.errors import DownloadError
from tests.mirror.fixtures import catalogue_unmoved_by, mirror, selected_of, source_of, surveys  # noqa: F401 - pytest fixtures
from tests.mirror.drawings import galaxy_image
from tests.mirror.surveys import DECALS_CATALOGUE, DECALS_ZIPS, LEGACY_CUTOUT, build_zip


def test_dr12_answer_names_are_read_as_dr5(surveys, tmp_path):  # noqa: F811
    """volunteers_1_and_2 calls how-rounded's "round" answer "completely"."""
    old = surveys.decals.table.rename(columns=lambda c: c.replace("how-rounded_round", "how-rounded_completely"))
    assert "how-rounded_completely_fraction" in old.columns
    surveys.mirror.serve_bytes(DECALS_CATALOGUE, old.to_csv(index=False).encode())
    block = surveys.source_params()["decals"]
    table = source_of("decals", block).fetch_catalogue(tmp_path)
    assert "how-rounded_round_fraction" in table.columns
    pd.testing.assert_frame_equal(table, surveys.decals.table)  # renamed back, nothing else changed
    labels = selected_of("decals", block, table)["label"].value_counts().to_dict()
    assert labels == {"round": 8, "elliptical": 8, "edge_on": 8, "spiral": 8}


def test_the_catalogue_is_the_whole_table_whatever_the_selection(surveys, tmp_path):  # noqa: F811
    def stricter(block: dict) -> None:
        block["selection"]["suffix"] = "_debiased"
        block["selection"]["rules"]["round"][0]["how-rounded_round"] = 0.96

    table = catalogue_unmoved_by("decals", surveys.source_params()["decals"], stricter, tmp_path)
    pd.testing.assert_frame_equal(table, surveys.decals.table)  # counts, fractions, debiased, totals


def test_cutouts_follow_the_pixscale_rule(surveys, tmp_path):  # noqa: F811
    block = surveys.source_params()["decals"]
    source = source_of("decals", block)
    catalogue = source.fetch_catalogue(tmp_path)
    selected = selected_of("decals", block, catalogue)
    manifest = source.fetch_images(selected, tmp_path, tmp_path / "out")
    assert (manifest["status"] == "ok").all() and len(manifest) == 32
    radii = catalogue.set_index(catalogue["ra"].map("{:.6f}".format))
    for request in surveys.mirror.requests(LEGACY_CUTOUT):
        th50, th90 = radii.loc[request.query["ra"], ["petro_th50", "petro_th90"]]
        assert float(request.query["pixscale"]) == pytest.approx(max(min(0.04 * th50, 0.02 * th90), 0.1), rel=1e-5)
        assert (request.query["layer"], request.query["size"]) == ("ls-dr8", "424")
    assert sorted(p.suffix for p in (tmp_path / "out" / "images").iterdir()) == [".jpg"] * 32


def test_archive_mode_finds_each_png_in_whichever_zip_holds_it(surveys, tmp_path):  # noqa: F811
    surveys.add_archives()
    block = surveys.source_params(images_mode="archive")["decals"]
    source = source_of("decals", block)
    selected = selected_of("decals", block, source.fetch_catalogue(tmp_path))
    manifest = source.fetch_images(selected, tmp_path, tmp_path / "out")
    assert (manifest["status"] == "ok").all()
    assert {p.suffix for p in (tmp_path / "out" / "images").iterdir()} == {".png"}
    assert all(surveys.mirror.requests(path) for path in DECALS_ZIPS)


def test_a_catalogue_cut_short_without_content_length_is_fetched_again(surveys, tmp_path):  # noqa: F811
    """Status 200, no Content-Length, half the body, close: only the content shows it (issue 8)."""
    surveys.mirror.inject(DECALS_CATALOGUE, "truncated_unannounced")
    table = source_of("decals", surveys.source_params()["decals"]).fetch_catalogue(tmp_path)
    pd.testing.assert_frame_equal(table, surveys.decals.table)
    assert len(surveys.mirror.requests(DECALS_CATALOGUE)) == 2


def test_a_catalogue_always_cut_short_is_a_clear_error_and_no_table(surveys, tmp_path):  # noqa: F811
    surveys.mirror.inject(DECALS_CATALOGUE, *["truncated_unannounced"] * 4)  # every attempt (retries: 3)
    with pytest.raises(DownloadError, match=r"^gz_decals_volunteers_5.csv: (row \d+ has \d+ fields, the header "
                                            r"\d+: the file is cut short or malformed|the last row \(row \d+\) ends "
                                            r"without a newline: the file is cut short) \(gave up after 4 attempts\)$"):
        source_of("decals", surveys.source_params()["decals"]).fetch_catalogue(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_archive_png_followed_by_other_bytes_is_a_failed_row_naming_the_cap(surveys, tmp_path):  # noqa: F811
    surveys.add_archives()
    names = list(surveys.decals.labels)
    png = {name: galaxy_image(surveys.decals.labels[name], 424, i, "PNG") for i, name in enumerate(names)}
    spoilt = names[0]
    surveys.mirror.serve_bytes(DECALS_ZIPS[0], build_zip(
        {f"{n[:4]}/{n}.png": png[n] + (b"\0" * 100 if n == spoilt else b"") for n in names}, zipfile.ZIP_STORED))
    block = surveys.source_params(images_mode="archive")["decals"]
    source = source_of("decals", block)
    selected = selected_of("decals", block, source.fetch_catalogue(tmp_path))
    manifest = source.fetch_images(selected, tmp_path, tmp_path / "out").set_index("id")
    assert manifest.loc[spoilt, "reason"] == ("100 bytes after the image's end marker (at most 0 allowed by "
                                              "survey.decals.source.images.fetch.max_trailing_bytes)")
    assert not (tmp_path / "out" / "images" / f"{spoilt}.png").exists()
    assert (manifest.drop(index=spoilt)["status"] == "ok").all()
