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
import yaml

from pipeline.model_file import load_model
from tests.dvc_stages import declared_stages, undeclared_reads, unread_params
from tests.repo_copy import RepoCopy, shrink_survey, tiny
from tests.test_headline_metrics import MAX_WIDTH, dotted

SURVEYS = ["sim_sdss", "sim_decals"]
#: Declared for every survey, read by some source kinds only: the real sources fetch cutouts of
#: this size; the simulator renders at its own ``image.size_px``.  The morphology stage reads the
#: survey's source block only for morphology source pawlikmorph (its SkyServer).
#: The stages over every survey: any survey's new results rerun them.
SUMMARIES = {"cross_summary", "report"}
READ_BY_SOME_SOURCES = {"images": ("image.native_size",), "morphology": (".source",)}


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


def test_metrics_show_is_every_surveys_headline_as_in_its_detail_file(done):
    """Issue 12: `dvc metrics show` lists the headline files only, in one table at most 200
    characters wide, each number the evaluate detail file's under the same key."""
    listed = json.loads(done.dvc("metrics", "show", "--json").stdout)[""]["data"]
    assert set(listed) == {f"metrics/headline/{name}.json" for name in SURVEYS}
    lines = done.dvc("metrics", "show").stdout.splitlines()
    assert max(map(len, lines)) <= MAX_WIDTH
    header, *rows = (line.split() for line in lines)
    shown = {row[0]: dict(zip(header[1:], row[1:])) for row in rows}
    ev = done.params()["evaluate"]
    keys = {*(f"knn.k{k}" for k in ev["ks"]), "nmi", "ari",
            f"baseline.random_init.k{ev['k']}", f"baseline.pixels.k{ev['k']}"}
    for name in SURVEYS:
        full = dotted(_json(done, f"metrics/evaluate/{name}.json"))
        row = shown[f"metrics/headline/{name}.json"]
        assert set(row) == keys
        for key in keys:  # DVC prints 5 decimals
            assert float(row[key]) == pytest.approx(full[key], abs=1e-5), (name, key)


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

    import pandas as pd

    folder = done.path / "data/embed/sim_sdss"
    galaxies = pd.read_parquet(folder / "galaxies.parquet")
    backbone, projection = np.load(folder / "backbone.npy"), np.load(folder / "projection.npy")
    assert set(galaxies["split"]) == {"train", "val", "test"}
    assert galaxies["id"].is_unique and len(galaxies) == backbone.shape[0] == projection.shape[0]
    assert np.allclose(np.linalg.norm(projection, axis=1), 1, atol=1e-4)


def test_evaluate_metrics_match_scikit_learn_on_the_exported_embeddings(done):
    """Every kNN score, NMI, ARI, recall and the predictions csv, recomputed from data/embed
    with scikit-learn alone (cosine brute-force kNN, ties to the lowest class as ours)."""
    import numpy as np
    import pandas as pd
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, recall_score
    from sklearn.neighbors import KNeighborsClassifier

    ev = done.params()["evaluate"]
    for name in SURVEYS:
        m = _json(done, f"metrics/evaluate/{name}.json")
        classes = done.params()["survey"][name]["classes"]
        folder = done.path / f"data/embed/{name}"
        galaxies = pd.read_parquet(folder / "galaxies.parquet")
        ids, split, labels = (galaxies[c].to_numpy() for c in ("id", "split", "label_id"))
        reps = {rep: np.load(folder / f"{rep}.npy") for rep in ("backbone", "projection")}
        train, val, test = (np.flatnonzero(split == s) for s in ("train", "val", "test"))
        assert (m["n_train"], m["n_val"], m["n_test"]) == (len(train), len(val), len(test))

        def knn(feats, k, bank, queries):
            return KNeighborsClassifier(k, metric="cosine", algorithm="brute").fit(
                feats[bank], labels[bank]).predict(feats[queries])

        def loo(feats, k):  # inside the test split, each galaxy voted on by the others
            return np.array([knn(feats, k, np.delete(test, i), [j])[0] for i, j in enumerate(test)])

        def pct(pred, queries):
            return pytest.approx(np.mean(pred == labels[queries]) * 100, abs=1e-3)

        for rep, feats in reps.items():
            got = m["representations"][rep]
            for k in ev["ks"]:
                assert got["knn"][f"k{k}"] == pct(knn(feats, k, train, test), test), (name, rep, k)
                assert got["knn_val"][f"k{k}"] == pct(knn(feats, k, train, val), val), (name, rep, k)
                assert got["knn_loo"][f"k{k}"] == pct(loo(feats, k), test), (name, rep, k)
            pred, pred_loo = knn(feats, ev["k"], train, test), loo(feats, ev["k"])
            for key, value in (("nmi", normalized_mutual_info_score(labels[test], pred)),
                               ("ari", adjusted_rand_score(labels[test], pred)),
                               ("nmi_loo", normalized_mutual_info_score(labels[test], pred_loo)),
                               ("ari_loo", adjusted_rand_score(labels[test], pred_loo))):
                assert got[key] == pytest.approx(value, abs=1e-6), (name, rep, key)
        main = m["representations"][ev["representation"]]
        assert {key: m[key] for key in main} == main

        # The confusion plot's csv: one row per test galaxy, the kNN at evaluate.k of the
        # headline representation; NMI, ARI and recall follow from it alone.
        table = pd.read_csv(done.path / f"metrics/evaluate/{name}_predictions.csv", dtype=str)
        assert len(table) == m["n_test"] and table["id"].tolist() == ids[test].tolist()
        assert table["actual"].tolist() == [classes[i] for i in labels[test]]
        pred = knn(reps[ev["representation"]], ev["k"], train, test)
        assert table["predicted"].tolist() == [classes[i] for i in pred]
        assert m["nmi"] == pytest.approx(normalized_mutual_info_score(table["actual"], table["predicted"]), abs=1e-6)
        assert m["ari"] == pytest.approx(adjusted_rand_score(table["actual"], table["predicted"]), abs=1e-6)
        recall = recall_score(table["actual"], table["predicted"], labels=classes, average=None, zero_division=0)
        assert m["recall"] == {c: pytest.approx(r * 100, abs=1e-3) if c in set(table["actual"]) else None
                               for c, r in zip(classes, recall)}


def test_training_log_ends_at_the_last_epochs_scheduled_rate(done):
    """DVCLive's last step holds the rate of the last epoch: cosine at epochs - 1 (never
    lr * lr_final_factor, reached one epoch after the end)."""
    import math

    for name in SURVEYS:
        cfg = done.params()["survey"][name]["train"]
        last = _json(done, f"metrics/train/{name}/metrics.json")
        low = cfg["lr"] * cfg["lr_final_factor"]
        end = cfg["epochs"] - 1
        assert last["step"] == end
        assert last["lr"] == pytest.approx(low + (cfg["lr"] - low) * (1 + math.cos(math.pi * end / cfg["epochs"])) / 2,
                                           rel=1e-9)


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


def test_each_stage_reads_exactly_the_params_it_declares(done):
    stages = {s.name: s for s in declared_stages(done.path)}
    traces = {p.stem: json.loads(p.read_text()) for p in done.reads_dir.glob("*.json")}
    assert set(traces) == set(stages), "every stage ran and recorded its reads"
    for name, reads in traces.items():
        stage = stages[name]
        assert not undeclared_reads(reads, stage), f"{name} reads params dvc.yaml does not declare"
        optional = READ_BY_SOME_SOURCES.get(name.split("@")[0], ())
        unread = [k for k in unread_params(reads, stage) if not k.endswith(optional)]
        assert not unread, f"{name} declares params it never reads"


def dvc_status_stages(repo: RepoCopy) -> set[str]:
    status = json.loads(repo.dvc("status", "--json").stdout or "{}")
    return set(status)


def test_editing_the_metrics_module_reruns_the_cross_stages(done):
    metrics = done.path / "pipeline" / "metrics.py"
    original = metrics.read_text()
    metrics.write_text(original + "\n# an edit\n")
    try:
        stale = dvc_status_stages(done)
    finally:
        metrics.write_text(original)
    assert {f"cross@{a}-{b}" for a in SURVEYS for b in SURVEYS} <= stale
    assert {f"evaluate@{s}" for s in SURVEYS} <= stale
    assert not any(s.startswith(("catalogue", "select", "images", "prepare")) for s in stale)


def test_editing_a_model_no_survey_uses_retrains_nothing(done):
    params_file = done.path / "params.yaml"
    original = params_file.read_text()
    params = yaml.safe_load(original)
    params["models"]["paper"]["vit_depth"] += 1  # the simulated surveys train the demo model
    params["sim_population"]["counts_slope"] = 0.3
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        stale = dvc_status_stages(done)
    finally:
        params_file.write_text(original)
    # The shared stage notices both edits; only the population reaches a later stage.
    assert stale == {f"shared@{s}" for s in SURVEYS}, stale


def test_threshold_edit_reruns_only_that_survey_from_select_on(done):
    params = done.params()
    params["survey"]["sim_sdss"]["selection"]["rules"]["elliptical"][0]["p_el"] = 0.85
    done.write_params(params)
    diff = done.dvc("params", "diff").stdout
    assert "survey.sim_sdss.selection.rules.elliptical" in diff and "0.85" in diff  # lists diff whole
    ran = ran_stages(done.dvc("repro"))
    assert {"select@sim_sdss", "evaluate@sim_sdss"} | SUMMARIES <= ran
    assert not any(s.startswith("catalogue@") for s in ran)
    untouched = {s for s in ran if "sim_sdss" not in s and s not in SUMMARIES}
    assert untouched == set(), untouched
    done.commit("threshold")


def test_cross_only_param_reruns_only_cross_stages(done):
    params = done.params()
    params["cross"]["k"] = 1
    done.write_params(params)
    ran = ran_stages(done.dvc("repro"))
    assert ran and all(s.startswith("cross@") or s in SUMMARIES for s in ran), ran
    assert len(ran) == len(SURVEYS) ** 2 + len(SUMMARIES)
    done.commit("cross k")


ANALYSIS_PLOTS = ["metrics/cluster/{s}/dendrogram.png", "metrics/cluster/{s}/sizes.png",
                  "metrics/cluster/{s}/grid.png", "metrics/morphology/{s}/histograms.png"]


def test_analyses_write_their_metrics_under_stable_keys(done):
    """Issue 10 item 7: cluster, Table 5, ablation and label-efficiency metrics (plain outputs)."""
    for name in SURVEYS:
        n_test = _json(done, f"metrics/evaluate/{name}.json")["n_test"]
        c = _json(done, f"metrics/cluster/{name}.json")
        assert {"n_clusters", "sizes", "purity", "nmi", "ari"} <= set(c)
        assert len(c["sizes"]) == c["n_clusters"] and sum(c["sizes"]) == n_test
        assert c["sizes"] == sorted(c["sizes"], reverse=True)  # cluster 1 is the largest
        m = _json(done, f"metrics/morphology/{name}.json")
        assert len(m["clusters"]) == c["n_clusters"]
        for means in m["clusters"].values():
            assert {"A", "G", "M20", "SB0", "Reff", "n", "n_failed"} <= set(means)
    ablation = _json(done, "metrics/ablation/sim_decals.json")
    assert set(ablation) == {"fusion", "cnn", "vit"}
    for scores in ablation.values():
        assert set(scores["knn"]) == {"k1", "k3"} and {"nmi", "ari"} <= set(scores)
    # the fusion column is the evaluate stage's own test-split score, by another road
    evaluated = _json(done, "metrics/evaluate/sim_decals.json")
    assert ablation["fusion"]["knn"] == evaluated["knn"] and ablation["fusion"]["nmi"] == evaluated["nmi"]
    assert ablation["cnn"]["knn"] != ablation["vit"]["knn"] or ablation["cnn"]["nmi"] != ablation["vit"]["nmi"]
    efficiency = _json(done, "metrics/label_efficiency/sim_decals.json")
    assert set(efficiency) == {"6", "12", "24"}
    for row in efficiency.values():
        assert all(0 <= row[key] <= 100 for key in ("supervised", "knn", "linear"))


def test_plots_show_renders_every_analysis_figure(done):
    out = done.path / "plots_out"
    done.dvc("plots", "show", "-o", str(out))
    html = (out / "index.html").read_text()
    expected = [p.format(s=s) for s in SURVEYS for p in ANALYSIS_PLOTS]
    expected += ["metrics/ablation/sim_decals_curves.png", "metrics/label_efficiency/sim_decals.png"]
    expected += [str(p.relative_to(done.path)) for s in SURVEYS
                 for p in (done.path / f"metrics/attribution/{s}").glob("*.png")]
    assert len(expected) > len(ANALYSIS_PLOTS) * len(SURVEYS) + 2  # the attribution figures exist
    for path in expected:
        assert (done.path / path).is_file(), path
        assert path.replace("/", "_") in html or path in html, f"{path} not rendered by dvc plots show"


def test_cluster_threshold_edit_reruns_only_the_clustering(done):
    """An analysis param reruns its analysis and what reads it: no training, no re-measuring."""
    params = done.params()
    params["survey"]["sim_sdss"]["cluster"]["threshold"] *= 0.8
    done.write_params(params)
    assert dvc_status_stages(done) == {"cluster@sim_sdss"}  # its dependants follow if its outputs change
    ran = ran_stages(done.dvc("repro"))
    # the per-cluster means follow when the partition changed, and the report shows the new
    # figures; nothing else ever does
    assert "cluster@sim_sdss" in ran and ran <= {"cluster@sim_sdss", "morphology_clusters@sim_sdss", "report"}, ran
    done.commit("cluster threshold")


def test_ablation_refuses_a_branch_the_params_do_not_list(done):
    proc = done.run(sys.executable, "-m", "stages.ablation_train", "sim_decals", "resnet", check=False)
    assert proc.returncode == 2
    assert "ablation.branches: 'resnet' is not listed ['cnn', 'vit']" in proc.stderr


def test_adding_a_survey_adds_its_row_and_column_only(done):
    before = _json(done, "metrics/cross_survey.json")
    params = done.params()
    params["surveys"] = SURVEYS + ["sim_gz2"]
    shrink_survey(params, "sim_gz2")
    done.write_params(params)
    ran = ran_stages(done.dvc("repro"))
    others = {s for s in ran if "sim_gz2" not in s}
    assert others == SUMMARIES, others
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


def test_train_on_two_devices_runs_under_torchrun(tmp_path):
    """`train.devices: 2` makes the stage start itself again under torchrun (two gloo processes
    on this CPU); rank 0 alone writes the model, the DVCLive log and removes the checkpoint."""
    repo = RepoCopy(tmp_path / "repo")
    params = tiny(repo.params(), ["sim_decals"])
    params["survey"]["sim_decals"]["train"].update(devices=2, threads=1)
    repo.write_params(params)
    repo.commit()
    out = repo.dvc("repro", "train@sim_decals")
    log = out.stdout + out.stderr
    assert "torch.distributed.run --nproc-per-node=2 --nnodes=1 --standalone --module stages.train" in log
    epochs = params["survey"]["sim_decals"]["train"]["epochs"]
    assert _json(repo, "metrics/train/sim_decals/metrics.json")["step"] == epochs - 1
    # A strict load: DDP's "module." prefixes or converted BatchNorm keys would be refused.
    load_model(repo.path / "data/train/sim_decals/model.pt")
    assert not (repo.path / "data/checkpoints/sim_decals/last.pt").exists()
