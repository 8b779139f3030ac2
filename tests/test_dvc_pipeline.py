"""`dvc repro` for real, in a temporary copy of the repository, on a tiny configuration."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.repo_copy import RepoCopy, shrink_survey, tiny

SURVEYS = ["sim_sdss", "sim_decals"]


def ran_stages(proc: subprocess.CompletedProcess) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", proc.stdout + proc.stderr))


@pytest.fixture(scope="module")
def done(tmp_path_factory) -> RepoCopy:
    """A tiny two-survey pipeline, reproduced once for the whole module."""
    repo = RepoCopy(tmp_path_factory.mktemp("pipeline") / "repo")
    repo.write_params(tiny(repo.params(), SURVEYS))
    repo.commit()
    repo.dvc("repro")
    return repo


def _json(repo: RepoCopy, rel: str) -> dict:
    return json.loads((repo.path / rel).read_text())


def test_metrics_have_the_documented_keys(done):
    for name in SURVEYS:
        m = _json(done, f"metrics/evaluate/{name}.json")
        for key in ("knn", "knn_loo"):
            assert set(m[key]) == {"k1", "k3"} and all(0 <= v <= 100 for v in m[key].values())
        assert {"nmi", "ari", "n_train", "n_test"} <= set(m) and m["n_test"] > 0
        for key in ("baseline", "baseline_loo", "baseline_val"):
            assert set(m[key]) == {"random_init", "pixels"} and set(m[key]["pixels"]) == {"k1", "k3"}, key
        assert m["n_train"] + m["n_val"] + m["n_test"] == sum(sel_counts(done, name).values())
        assert set(m["representations"]) == {"backbone", "projection"}
        sel = _json(done, f"metrics/select/{name}.json")
        assert all(n > 0 for n in sel["counts"].values())
        assert sel["n_selected"] + sum(sel["dropped"].values()) == sel["n_catalogue"]
    shown = done.dvc("metrics", "show").stdout
    assert "metrics/evaluate/sim_sdss.json" in shown and "knn.k3" in shown


def sel_counts(repo: RepoCopy, name: str) -> dict[str, int]:
    return _json(repo, f"metrics/select/{name}.json")["counts"]


def test_pixel_baseline_under_both_protocols_matches_scikit_learn(done):
    """The raw-pixel baseline's LOO (inside the test split) and standard scores, from scratch."""
    import numpy as np
    from sklearn.neighbors import KNeighborsClassifier

    from pipeline import prepare
    from pipeline.evaluate import pixel_features

    params = done.params()
    name = "sim_sdss"
    prepared = prepare.load(done.path / f"data/prepared/{name}")
    pixels = pixel_features(prepared, params["survey"][name]["image"]["input_size"],
                            params["evaluate"]["pixel_baseline_size"])
    split, labels = prepared.index["split"].to_numpy(), prepared.index["label_id"].to_numpy()
    m = _json(done, f"metrics/evaluate/{name}.json")
    test = np.flatnonzero(split == "test")
    for k in (1, 3):
        loo = [KNeighborsClassifier(k, metric="cosine", algorithm="brute")
               .fit(pixels[np.delete(test, i)], labels[np.delete(test, i)]).predict(pixels[[j]])[0]
               for i, j in enumerate(test)]
        assert m["baseline_loo"]["pixels"][f"k{k}"] == pytest.approx(np.mean(loo == labels[test]) * 100, abs=1e-3)
        for key, queries in (("baseline", test), ("baseline_val", np.flatnonzero(split == "val"))):
            std = KNeighborsClassifier(k, metric="cosine", algorithm="brute").fit(
                pixels[split == "train"], labels[split == "train"]).predict(pixels[queries])
            assert m[key]["pixels"][f"k{k}"] == pytest.approx(np.mean(std == labels[queries]) * 100, abs=1e-3)


def test_embeddings_hold_every_split_keyed_by_id(done):
    import numpy as np

    with np.load(done.path / "data/embed/sim_sdss.npz") as f:
        assert set(f["split"]) == {"train", "val", "test"}
        assert len(set(f["id"])) == len(f["id"]) == f["backbone"].shape[0] == f["projection"].shape[0]
        assert np.allclose(np.linalg.norm(f["projection"], axis=1), 1, atol=1e-4)


def test_cross_matrix_and_its_diagonal(done):
    matrix = _json(done, "metrics/cross_survey.json")
    assert set(matrix) == set(SURVEYS)
    assert set(matrix["sim_sdss"]) == {"sim_sdss", "sim_decals", "sim_decals_3"}
    for name in SURVEYS:
        ev = _json(done, f"metrics/evaluate/{name}.json")
        diag = matrix[name][name]
        assert diag["knn"] == ev["knn"]["k3"] and diag["knn_loo"] == ev["knn_loo"]["k3"]
        assert diag["nmi"] == ev["nmi"] and diag["ari"] == ev["ari"]
    assert (done.path / "metrics/cross_survey.png").stat().st_size > 1000


def test_repro_after_a_complete_run_does_nothing(done):
    proc = done.dvc("repro")
    assert ran_stages(proc) == set(), proc.stdout


def test_threshold_edit_reruns_only_that_survey_from_select_on(done):
    params = done.params()
    params["survey"]["sim_sdss"]["selection"]["rules"]["elliptical"][0]["p_el"] = 0.85
    done.write_params(params)
    diff = done.dvc("params", "diff").stdout
    assert "survey.sim_sdss.selection.rules.elliptical" in diff and "0.85" in diff  # lists diff whole
    ran = ran_stages(done.dvc("repro"))
    assert {"select@sim_sdss", "evaluate@sim_sdss", "cross_summary"} <= ran
    assert not any(s.startswith("catalogue@") for s in ran)
    untouched = {s for s in ran if "sim_sdss" not in s and s != "cross_summary"}
    assert untouched == set(), untouched
    done.commit("threshold")


def test_cross_only_param_reruns_only_cross_stages(done):
    params = done.params()
    params["cross"]["k"] = 1
    done.write_params(params)
    ran = ran_stages(done.dvc("repro"))
    assert ran and all(s.startswith("cross@") or s == "cross_summary" for s in ran), ran
    assert len(ran) == len(SURVEYS) ** 2 + 1
    done.commit("cross k")


def test_adding_a_survey_adds_its_row_and_column_only(done):
    before = _json(done, "metrics/cross_survey.json")
    params = done.params()
    params["surveys"] = SURVEYS + ["sim_gz2"]
    shrink_survey(params, "sim_gz2")
    done.write_params(params)
    ran = ran_stages(done.dvc("repro"))
    others = {s for s in ran if "sim_gz2" not in s}
    assert others == {"cross_summary"}, others
    after = _json(done, "metrics/cross_survey.json")
    assert set(after) == set(SURVEYS) | {"sim_gz2"}
    assert all("sim_gz2" in after[m] for m in after)
    for model in SURVEYS:
        for target, scores in before[model].items():
            assert after[model][target] == scores
    done.commit("add sim_gz2")


def test_killed_training_resumes_to_the_same_metrics(tmp_path, done):
    repo = RepoCopy(tmp_path / "repo")
    params = tiny(repo.params(), ["sim_decals"])
    repo.write_params(params)
    repo.commit()
    repo.dvc("repro", "prepare@sim_decals")
    checkpoint = repo.path / "data/checkpoints/sim_decals/last.pt"
    proc = subprocess.Popen([sys.executable, "-m", "dvc", "repro", "train@sim_decals"], cwd=repo.path,
                            env=repo.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert checkpoint.exists(), "training never wrote its first checkpoint"
    os.killpg(proc.pid, signal.SIGKILL)  # mid-epoch 2, as a user's Ctrl-C or a lost machine
    proc.wait()
    assert not (repo.path / "data/train/sim_decals/model.pt").exists()
    rerun = repo.dvc("repro")
    assert "resuming from epoch 1" in rerun.stdout + rerun.stderr
    assert not checkpoint.exists()
    # The uninterrupted run of the same params (the module's pipeline) ended with these metrics.
    ours = _json(repo, "metrics/evaluate/sim_decals.json")
    theirs = _json(done, "metrics/evaluate/sim_decals.json")
    assert ours == theirs
