"""The images stage against the loopback SkyServer: nothing silently wrong on disk (issue 8).

Run as DVC runs it (``stages.images.main`` in a folder with its params.yaml and the select
stage's output): an image followed by other bytes is not accepted, a file torn on disk under its
final name is found on the next run and fetched again, and an id that is not a plain file name
is a failed manifest row, not a traceback.
"""
from __future__ import annotations

import hashlib

import pandas as pd
import pytest
import yaml

from pipeline import paths
from pipeline.config import read_params
from pipeline.surveys.base import MANIFEST_FILE
from stages import images as images_stage, shared as shared_stage
from tests.mirror.fixtures import ROOT, mirror, selected_of, source_of, surveys  # noqa: F401 - pytest fixtures
from tests.mirror.replies import Reply
from tests.mirror.skyserver import cutout_handler, cutout_path

CUTOUT = cutout_path(17)
KEY = "survey.sdss.source.images.fetch.max_trailing_bytes"
TAIL = b"\0" * 4812


@pytest.fixture
def stage_dir(surveys, tmp_path, monkeypatch):  # noqa: F811
    """A folder with params.yaml pointing survey sdss at the mirror, the shared blocks, the
    catalogue and the selection: what the images stage finds when DVC runs it; the current
    directory."""
    params = read_params(ROOT / "params.yaml")
    block = surveys.source_params()["sdss"]
    params["survey"]["sdss"]["source"] = block
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    shared_stage.main(["sdss"])
    paths.catalogue_dir("sdss").mkdir(parents=True)
    catalogue = source_of("sdss", block).fetch_catalogue(paths.catalogue_dir("sdss"))
    paths.selected_file("sdss").parent.mkdir(parents=True)
    selected_of("sdss", block, catalogue).to_parquet(paths.selected_file("sdss"))
    surveys.mirror.clear_log()
    return tmp_path


def selected() -> pd.DataFrame:
    return pd.read_parquet(paths.selected_file("sdss"))


def run_stage() -> pd.DataFrame:
    images_stage.main(["sdss"])
    return pd.read_csv(paths.images_dir("sdss") / MANIFEST_FILE, dtype={"id": str}).set_index("id")


def image_file(galaxy_id: str):
    return paths.images_dir("sdss") / "images" / f"{galaxy_id}.jpg"


def asked(surveys, ra_of: dict[str, str]) -> list[str]:  # noqa: F811
    """The ids whose cutouts the mirror was asked for, one entry per request."""
    by_ra = {ra: galaxy_id for galaxy_id, ra in ra_of.items()}
    return sorted(by_ra[r.query["ra"]] for r in surveys.mirror.requests(CUTOUT))


def ras() -> dict[str, str]:
    return {row.id: f"{row.ra:.6f}" for row in selected().itertuples()}


def test_an_image_followed_by_other_bytes_is_not_accepted(surveys, stage_dir):  # noqa: F811
    """Always a tail: retried, then a failed row naming the cap's key; a tail once: retried."""
    ids = list(ras())
    always, once = ids[0], ids[1]
    tails = {ras()[always]: [TAIL], ras()[once]: [TAIL, b""]}
    normal = cutout_handler(surveys.draw, "width", "height")

    def with_tails(query: dict[str, str]) -> Reply:
        reply = normal(query)
        queue = tails.get(query["ra"], [b""])
        tail = queue.pop(0) if len(queue) > 1 else queue[0]
        return Reply(reply.status, reply.body + tail, reply.content_type, reply.headers)

    surveys.mirror.serve(CUTOUT, with_tails)
    manifest = run_stage()
    assert manifest.loc[always, "status"] == "failed"
    assert manifest.loc[always, "reason"] == (f"4812 bytes after the image's end marker (at most 0 allowed by {KEY}) "
                                              f"(gave up after 4 attempts)")
    assert not image_file(always).exists()
    assert (manifest.drop(index=always)["status"] == "ok").all()
    assert asked(surveys, ras()).count(once) == 2
    row = selected().set_index("id").loc[once]
    assert image_file(once).read_bytes() == surveys.draw(f"{row.ra:.6f}", f"{row.dec:.6f}", 128, 128)  # no tail


@pytest.mark.parametrize("keep_manifest", [True, False])
def test_a_rerun_fetches_again_the_images_torn_on_disk(surveys, stage_dir, capsys, keep_manifest):  # noqa: F811
    """A file cut short and one with bytes appended, under their final names: the rerun finds
    them (against the manifest's checksums, or by the full check when there is no manifest),
    deletes them and fetches them again; the others are not asked for."""
    first = run_stage()
    assert (first["status"] == "ok").all()
    for galaxy_id, row in first.iterrows():  # the checksums are those of the files
        data = image_file(galaxy_id).read_bytes()
        assert (row["bytes"], row["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
    torn, appended = list(first.index[:2])
    good = {i: image_file(i).read_bytes() for i in first.index}
    image_file(torn).write_bytes(good[torn][:len(good[torn]) // 2])
    image_file(appended).write_bytes(good[appended] + TAIL)
    if not keep_manifest:
        (paths.images_dir("sdss") / MANIFEST_FILE).unlink()
    surveys.mirror.clear_log()
    capsys.readouterr()

    manifest = run_stage()
    out = capsys.readouterr().out
    assert "sdss cutouts: 2 images on disk failed verification and are fetched again (e.g. id " in out
    assert asked(surveys, ras()) == sorted([torn, appended])
    assert {i: image_file(i).read_bytes() for i in first.index} == good
    assert (manifest["status"] == "ok").all()
    for galaxy_id in (torn, appended):
        assert manifest.loc[galaxy_id, "reason"].startswith("fetched again: the file on disk failed verification (")
    assert "no end marker" in manifest.loc[torn, "reason"] or "does not decode" in manifest.loc[torn, "reason"]
    assert f"4812 bytes after the image's end marker (at most 0 allowed by {KEY})" in manifest.loc[appended, "reason"]
    assert manifest[["bytes", "sha256"]].equals(first[["bytes", "sha256"]])


@pytest.mark.parametrize("max_failed, fails", [(0.2, False), (0.1, True)])
def test_an_id_that_is_not_a_plain_file_name_is_a_failed_row(surveys, stage_dir, capsys,  # noqa: F811
                                                             max_failed, fails):
    table = selected()
    ra_of = ras()
    unsafe = table.iloc[:3].assign(id=["587/1", "..", "..\\x"])
    pd.concat([table, unsafe], ignore_index=True).to_parquet(paths.selected_file("sdss"))
    params = yaml.safe_load((stage_dir / "params.yaml").read_text())
    params["survey"]["sdss"]["source"]["images"]["fetch"]["max_failed_fraction"] = max_failed
    (stage_dir / "params.yaml").write_text(yaml.safe_dump(params))
    if fails:
        with pytest.raises(SystemExit) as exit_info:
            images_stage.main(["sdss"])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        last = err.strip().splitlines()[-1]  # after the progress bar
        assert "Traceback" not in err and last.startswith(f"error: 3 of {len(table) + 3} files failed")
        assert last.endswith(f"3 id is not a plain file name; see {paths.images_dir('sdss') / MANIFEST_FILE}")
    else:
        images_stage.main(["sdss"])
    manifest = pd.read_csv(paths.images_dir("sdss") / MANIFEST_FILE, dtype={"id": str}, keep_default_na=False)
    assert manifest["id"].tolist() == [*table["id"], "587/1", "..", "..\\x"]  # one row each, in order
    rows = manifest.set_index("id")
    for galaxy_id in ("587/1", "..", "..\\x"):
        assert (rows.loc[galaxy_id, "status"], rows.loc[galaxy_id, "reason"]) == (
            "failed", f"id is not a plain file name: {galaxy_id!r}")
    assert (rows.loc[list(table["id"]), "status"] == "ok").all()
    assert asked(surveys, ra_of) == sorted(table["id"])  # nothing asked for the refused ids
    assert sorted(p.name for p in (paths.images_dir("sdss") / "images").iterdir()) == sorted(
        f"{i}.jpg" for i in table["id"])
