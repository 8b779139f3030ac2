"""`dvc repro` of the real surveys end to end, every server the loopback mirror (issue 3).

The repository's params with only the source blocks pointed at the mirror and a tiny training
run: catalogue downloads, the SDSS query, selection, cutouts (GZ2 from the Zenodo zip by range
requests, SDSS and DECaLS per object), prepare, train, embed and evaluate.  A second test runs a
``local`` survey made of a folder of JPEGs and a CSV of labels.
"""
from __future__ import annotations

import copy
import json
from typing import Iterator

import pandas as pd
import pytest

from tests.dvc_stages import declared_stages, undeclared_reads
from tests.mirror.drawings import galaxy_image
from tests.mirror.server import Mirror
from tests.mirror.surveys import SurveyMirror, fast_http
from tests.repo_copy import RepoCopy

REAL = ["gz2", "sdss", "decals"]
PER_CLASS = 24


def shrink(params: dict, surveys: list[str]) -> dict:
    """Tiny training on 40 px images (as the simulated surveys); sources are left as they are."""
    params["surveys"] = surveys
    params["evaluate"].update(ks=[1, 3], k=3, batch_size=64)
    params["cross"]["k"] = 3
    params["ablation"]["surveys"] = params["label_efficiency"]["surveys"] = []  # they train extra models
    for name in surveys:
        block = params["survey"][name]
        block["image"]["input_size"] = 40
        block["train"] = {**block["train"], "model": "demo", "epochs": 1, "batch_size": 16, "threads": 1}
    return params


@pytest.fixture(scope="module")
def mirror() -> Iterator[SurveyMirror]:
    counts = {"gz2": dict.fromkeys(["elliptical", "edge_on", "spiral", "none"], PER_CLASS),
              "sdss": dict.fromkeys(["elliptical", "edge_on", "spiral", "none"], PER_CLASS),
              "decals": dict.fromkeys(["round", "elliptical", "edge_on", "spiral", "none"], PER_CLASS)}
    with Mirror(hang_s=1.0) as server:
        surveys = SurveyMirror(server, seed=3, counts=counts)
        surveys.add_archives(("gz2",))
        yield surveys


def metrics(repo: RepoCopy, name: str) -> dict:
    return json.loads((repo.path / f"metrics/evaluate/{name}.json").read_text())


def select_metrics(repo: RepoCopy, name: str) -> dict:
    return json.loads((repo.path / f"metrics/select/{name}.json").read_text())


def repro_with_sources(repo: RepoCopy, params: dict, sources: dict, surveys: list[str]) -> None:
    """``dvc repro`` through evaluate of ``surveys`` with these source blocks; then every selected
    galaxy must be in its images manifest, fetched."""
    for name in surveys:
        params["survey"][name]["source"] = sources[name]
    repo.write_params(params)
    repo.commit()
    repo.dvc("repro", *(f"evaluate@{name}" for name in surveys))
    for name in surveys:
        selected = pd.read_parquet(repo.path / f"data/select/{name}.parquet")
        manifest = pd.read_csv(repo.path / f"data/images/{name}/manifest.csv", dtype={"id": str})
        assert sorted(manifest["id"]) == sorted(selected["id"])  # every galaxy accounted for
        assert (manifest["status"] == "ok").all(), manifest[manifest["status"] != "ok"]


def test_dvc_repro_of_the_three_real_surveys_through_evaluate(tmp_path, mirror):
    repo = RepoCopy(tmp_path / "repo")
    params = shrink(repo.params(), REAL)
    sources = mirror.source_params(http=fast_http(rate_per_s=200.0))
    sources["gz2"]["images"]["mode"] = "archive"
    repro_with_sources(repo, params, sources, REAL)
    for name in REAL:
        assert metrics(repo, name)["n_test"] > 0
        assert select_metrics(repo, name)["n_catalogue"] == len(getattr(mirror, name).table)  # the whole table
    assert mirror.sql.queries and mirror.mirror.requests("/zenodo/records/3565489/files/images_gz2.zip")
    # The real sources read no params their stages do not declare (tests/test_dvc_pipeline.py
    # checks both directions on the simulated surveys).
    declared = {stage.name: stage for stage in declared_stages(repo.path)}
    traces = list(repo.reads_dir.glob("*.json"))
    assert len(traces) >= 7 * len(REAL)  # shared ... evaluate, per survey
    for trace in traces:
        assert not undeclared_reads(json.loads(trace.read_text()), declared[trace.stem]), trace.stem

    # A looser threshold reruns the survey from `select` on; the catalogue is not fetched again.
    params["survey"]["sdss"]["selection"]["rules"]["elliptical"][0]["p_el"] = 0.7
    repo.write_params(params)
    repo.commit("looser p_el")
    status = json.loads(repo.dvc("status", "--json", *(f"catalogue@{name}" for name in REAL), "select@sdss").stdout)
    assert list(status) == ["select@sdss"]
    mirror.mirror.clear_log()
    log = repo.dvc("repro", "select@sdss").stdout
    assert "Running stage 'select@sdss'" in log and "Running stage 'catalogue@sdss'" not in log
    assert mirror.mirror.requests() == []


def test_dvc_repro_of_a_local_survey_of_jpegs_and_a_csv_of_labels(tmp_path):
    repo = RepoCopy(tmp_path / "repo")
    params = shrink(repo.params(), ["local_example"])
    source = params["survey"]["local_example"]["source"]
    repo.write_params(params)
    repo.commit()
    labels = ["elliptical", "edge_on", "spiral"] * PER_CLASS
    table = pd.DataFrame({"id": [f"my{i:04d}" for i in range(len(labels))], "ra": 10.0, "dec": -1.0, "label": labels})
    folder = repo.path / source["images"]
    folder.mkdir(parents=True)
    table.to_csv(repo.path / source["catalogue"], index=False)
    for i, row in enumerate(table.itertuples()):
        (folder / source["image_pattern"].format(id=row.id)).write_bytes(galaxy_image(row.label, 424, i))
    repo.dvc("repro", "evaluate@local_example")
    assert metrics(repo, "local_example")["n_test"] > 0
    assert sorted(json.loads((repo.path / "metrics/select/local_example.json").read_text())["counts"].values()) \
        == [PER_CLASS] * 3


def test_dvc_repro_of_gz2_and_sdss_through_a_mirror_as_strict_as_the_real_servers(tmp_path):
    """Issue 9: SkyServer refusing query strings over 2,048 characters, zooNoSpec positions in
    float32, Stripe 82 rows without a DR7 radius, Zenodo's 429s and rate-limit headers, a zip
    written by macOS (wrapped entry count, ``__MACOSX``) and a mapping with duplicate objids.
    GZ2 runs twice, by cutouts and from the archive; every selected galaxy must be accounted for."""
    counts = {"gz2": dict.fromkeys(["elliptical", "edge_on", "spiral", "none"], PER_CLASS),
              "sdss": dict.fromkeys(["elliptical", "edge_on", "spiral", "none"], PER_CLASS),
              "decals": dict.fromkeys(["round", "elliptical", "edge_on", "spiral", "none"], 2)}
    with Mirror(hang_s=1.0, max_query_chars=2048) as server:
        strict = SurveyMirror(server, seed=5, counts=counts, stripe82_share=0.15)
        strict.add_archives(("gz2",), macos_zip=True, duplicate_mapping=True)
        server.limit_rate("/zenodo/", 20, 1.0)
        repo = RepoCopy(tmp_path / "repo")
        surveys = ["gz2", "gz2_zip", "sdss"]
        params = repo.params()
        params["survey"]["gz2_zip"] = copy.deepcopy(params["survey"]["gz2"])
        params = shrink(params, surveys)
        sources = strict.source_params(http=fast_http(rate_per_s=200.0))
        sources["gz2_zip"] = copy.deepcopy(sources["gz2"])
        sources["gz2_zip"]["images"]["mode"] = "archive"
        sources["gz2_zip"]["images"]["archive"]["http"] = fast_http(rate_per_s=15.0, burst=1)
        repro_with_sources(repo, params, sources, surveys)
        assert strict.sql.queries  # each under the limit, or the server would have refused it
        assert server.requests("/zenodo/records/3565489/files/images_gz2.zip")
