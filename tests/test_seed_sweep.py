"""The seed sweep: the summary of DVC experiments that differ only in the seed (README: Several seeds)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pipeline.seed_sweep import SeedSweepError, exp_show, summarise

ROOT = Path(__file__).resolve().parents[1]
PARAMS = {"seed": 0, "surveys": ["a", "b"], "evaluate": {"ks": [1, 5], "k": 5}}


def experiment(name: str, seed: int, scores: dict[str, dict], *, params: dict | None = None,
               state: str | None = "success", timestamp: str = "2026-01-01T00:00:00") -> dict:
    """One experiment of `dvc exp show --json`, in the shape DVC 3 prints (see pipeline/seed_sweep.py)."""
    failed = state == "failed"
    metrics = {f"metrics/headline/{survey}.json": {"data": m} for survey, m in scores.items()}
    if state in ("queued", "running"):
        metrics = {}
    elif failed:
        metrics = {f: {"error": {"type": "FileNotFoundError", "msg": "no such file"}} for f in metrics}
    rev = {"rev": name.encode().hex().ljust(40, "0")[:40], "name": name,
           "error": {"msg": "Experiment run failed", "type": ""} if failed else None,
           "data": {"rev": "x", "timestamp": timestamp,
                    "params": {"params.yaml": {"data": {**(params or PARAMS), "seed": seed}}},
                    "metrics": {**metrics, "metrics/train/a/metrics.json": {"data": {"loss": 1.0}}},
                    "deps": {}, "outs": {}, "meta": {}},
           "experiments": None}
    executor = None if state is None else {"state": state, "name": "dvc-task", "local": {}}
    return {"revs": [rev], "executor": executor, "name": name}


def show(*experiments: dict) -> list[dict]:
    """`dvc exp show --json`: the workspace, then the HEAD baseline with ``experiments``."""
    base = {"rev": "b" * 40, "name": "main", "error": None,
            "data": {"params": {"params.yaml": {"data": PARAMS}}, "metrics": {}}}
    return [{**base, "rev": "workspace", "name": None, "experiments": None},
            {**base, "experiments": list(experiments) or None}]


def scores(knn1: float, knn5: float, nmi: float) -> dict:
    """A headline metrics file's shape (pipeline.evaluate.headline), its scores made from three."""
    return {"knn": {"k1": knn1, "k5": knn5}, "nmi": nmi, "ari": nmi / 2,
            "baseline": {"random_init": {"k5": knn5 - 30}, "pixels": {"k5": knn1 - 20}}}


def by_hand(values: list[float]) -> tuple[float, float]:
    """Median and IQR of 4 or 5 values, from the sorted values (numpy's linear percentiles)."""
    s = sorted(values)
    if len(s) == 5:  # the quartiles fall on s[1] and s[3]
        return s[2], s[3] - s[1]
    assert len(s) == 4  # median between s[1] and s[2]; quartiles at 0.75 and 2.25 of the index
    q25, q75 = s[0] + 0.75 * (s[1] - s[0]), s[2] + 0.25 * (s[3] - s[2])
    return (s[1] + s[2]) / 2, q75 - q25


@pytest.mark.parametrize("n_seeds", [5, 4])
def test_median_and_iqr_of_every_knn_score_match_a_hand_computation(n_seeds):
    rng = np.random.default_rng(n_seeds)
    table = rng.uniform(50, 100, size=(n_seeds, 2, 3)).round(3)  # (seed, survey, score)
    exps = [experiment(f"e{i}", seed=100 + i, scores={s: scores(*table[i, j]) for j, s in enumerate("ab")})
            for i in range(n_seeds)]
    summary = summarise(show(*exps))
    assert [e["seed"] for e in summary["experiments"]] == [100 + i for i in range(n_seeds)]
    for j, survey in enumerate("ab"):
        got = summary["surveys"][survey]
        expected = {"knn.k1": table[:, j, 0], "knn.k5": table[:, j, 1], "nmi": table[:, j, 2],
                    "ari": table[:, j, 2] / 2, "baseline.random_init.k5": table[:, j, 1] - 30,
                    "baseline.pixels.k5": table[:, j, 0] - 20}
        assert set(got) == set(expected)
        for key, values in expected.items():
            median, iqr = by_hand(list(values))
            assert got[key]["n"] == n_seeds
            assert got[key]["median"] == pytest.approx(median), key
            assert got[key]["iqr"] == pytest.approx(iqr), key
            assert (got[key]["min"], got[key]["max"]) == (pytest.approx(values.min()), pytest.approx(values.max()))


def test_a_seed_run_twice_counts_once_from_its_newest_experiment():
    exps = [experiment("old1", 1, {"a": scores(10, 0, 0)}, timestamp="2026-01-01T00:00:00"),
            experiment("new1", 1, {"a": scores(20, 0, 0)}, timestamp="2026-01-02T00:00:00"),
            experiment("two", 2, {"a": scores(40, 0, 0)}, timestamp="2026-01-01T12:00:00")]
    summary = summarise(show(*exps))
    assert summary["duplicate_seeds"] == {"1": {"kept": "new1", "dropped": ["old1"]}}
    assert summary["surveys"]["a"]["knn.k1"]["n"] == 2
    assert summary["surveys"]["a"]["knn.k1"]["median"] == 30


def test_experiments_differing_in_more_than_the_seed_are_refused():
    other = {**PARAMS, "evaluate": {**PARAMS["evaluate"], "k": 15}}
    exps = [experiment("ref", 1, {"a": scores(1, 2, 3)}), experiment("k15", 2, {"a": scores(1, 2, 3)}, params=other)]
    with pytest.raises(SeedSweepError, match=r"`evaluate\.k` is 5 in ref but 15 in k15"):
        summarise(show(*exps))
    assert summarise(show(*exps, experiment("k15b", 3, {"a": scores(1, 2, 3)}, params=other)), ["k15", "k15b"])


@pytest.mark.parametrize("state, message", [("failed", "experiment bad failed"), ("queued", "bad is queued"),
                                            ("running", "bad is running")])
def test_an_unfinished_or_failed_experiment_is_refused_unless_left_out(state, message):
    exps = [experiment("x", 1, {"a": scores(1, 2, 3)}), experiment("y", 2, {"a": scores(1, 2, 3)}),
            experiment("bad", 3, {"a": scores(1, 2, 3)}, state=state)]
    with pytest.raises(SeedSweepError, match=message):
        summarise(show(*exps))
    assert summarise(show(*exps), ["x", "y"])["surveys"]["a"]["knn.k1"]["n"] == 2


def test_a_finished_experiment_without_its_metrics_file_is_refused():
    exp = experiment("nometrics", 2, {"a": scores(1, 2, 3)}, state=None)  # run in the workspace
    exp["revs"][0]["data"]["metrics"]["metrics/headline/a.json"] = {"error": {"msg": "No such file"}}
    with pytest.raises(SeedSweepError, match=r"nometrics has no metrics in metrics/headline/a\.json: No such"):
        summarise(show(experiment("x", 1, {"a": scores(1, 2, 3)}), exp))
    with pytest.raises(SeedSweepError, match=r"nometrics has no metrics/headline/<survey>\.json"):
        summarise(show(experiment("x", 1, {"a": scores(1, 2, 3)}), experiment("nometrics", 2, {}, state=None)))


def test_no_experiments_one_seed_and_unknown_names_are_refused():
    with pytest.raises(SeedSweepError, match="no experiments of the current commit bbbbbbb"):
        summarise(show())
    one = [experiment("x", 7, {"a": scores(1, 2, 3)}), experiment("x2", 7, {"a": scores(1, 2, 3)})]
    with pytest.raises(SeedSweepError, match="at least 2 seeds.*`seed` = 7"):
        summarise(show(*one))
    with pytest.raises(SeedSweepError, match="no experiment named nope .*there are: x, x2"):
        summarise(show(*one), ["x", "nope"])


def test_dvc_failing_is_one_clear_error(tmp_path):
    with pytest.raises(SeedSweepError, match=r"`dvc exp show --json` failed \(exit \d+\).*not inside of a DVC"):
        exp_show(tmp_path)


# --- for real: DVC's queue in a throw-away git + DVC repository ----------------------------------

#: The trivial stage: as the evaluate stage, a detail file (a plain output) and its headline (the
#: metrics file), whose scores depend on the seed and the survey.
FAKE_EVALUATE = '''
import json, sys
from pathlib import Path
import yaml

def fake_scores(seed, survey):
    shift = {"a": 0, "b": 5}[survey]
    return {"knn": {"k1": 60 + shift + (seed * 7) % 10, "k5": 70 + shift + seed / 4},
            "nmi": (seed % 3) / 10}

if __name__ == "__main__":
    seed, survey = yaml.safe_load(Path("params.yaml").read_text())["seed"], sys.argv[1]
    for kind, scores in (("evaluate", {**fake_scores(seed, survey), "knn_loo": {"k1": seed}, "n_test": 12}),
                         ("headline", fake_scores(seed, survey))):
        out = Path(f"metrics/{kind}/{survey}.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(scores))
'''
DVC_YAML = """stages:
  evaluate:
    foreach: ${surveys}
    do:
      cmd: python fake_evaluate.py ${item}
      deps: [fake_evaluate.py]
      params: [seed, evaluate]
      outs:
        - metrics/evaluate/${item}.json: {cache: false}
      metrics:
        - metrics/headline/${item}.json: {cache: false}
"""
SEEDS = [3, 11, 4, 8, 20]


def test_the_documented_queue_commands_then_the_summary_for_real(tmp_path):
    import yaml

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "fake_evaluate.py").write_text(FAKE_EVALUATE)
    (repo / "dvc.yaml").write_text(DVC_YAML)
    (repo / "params.yaml").write_text(yaml.safe_dump(PARAMS))
    ident = {f"GIT_{who}_{what}": value for who in ("AUTHOR", "COMMITTER")
             for what, value in (("NAME", "t"), ("EMAIL", "t@t"))}
    env = {**os.environ, **ident, "PYTHONPATH": str(ROOT),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}

    def run(*args: str) -> str:
        proc = subprocess.run(list(args), cwd=repo, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, f"{args} failed:\n{proc.stdout}\n{proc.stderr}"
        return proc.stdout

    dvc = (sys.executable, "-m", "dvc")
    run("git", "init", "-q")
    run(*dvc, "init", "-q")
    run(*dvc, "repro", "-q")  # the baseline commit holds seed 0's metrics, as this repository does
    run("git", "add", "-A")
    run("git", "commit", "-qm", "baseline")
    start = time.monotonic()
    for seed in SEEDS:
        run(*dvc, "exp", "run", "--queue", "-S", f"seed={seed}")
    queued = time.monotonic()
    run(*dvc, "exp", "run", "--run-all", "-j", "2")
    print(f"{len(SEEDS)} seeds queued in {queued - start:.1f} s, run in {time.monotonic() - queued:.1f} s")

    printed = run(sys.executable, "-m", "stages.seed_summary", "--out", "metrics/seeds.json")
    summary = json.loads((repo / "metrics/seeds.json").read_text())
    assert sorted(e["seed"] for e in summary["experiments"]) == sorted(SEEDS)  # not the baseline's 0
    namespace: dict = {}
    exec(FAKE_EVALUATE, namespace)
    for survey in ("a", "b"):
        truth = [namespace["fake_scores"](seed, survey) for seed in SEEDS]
        for key, values in (("knn.k1", [t["knn"]["k1"] for t in truth]),
                            ("knn.k5", [t["knn"]["k5"] for t in truth]), ("nmi", [t["nmi"] for t in truth])):
            median, iqr = by_hand(values)
            got = summary["surveys"][survey][key]
            assert (got["n"], got["median"], got["iqr"]) == (5, pytest.approx(median), pytest.approx(iqr)), key
        assert set(summary["surveys"][survey]) == {"knn.k1", "knn.k5", "nmi"}  # the detail file is not pooled
    assert (repo / "metrics/seeds.png").stat().st_size > 0
    assert "knn.k1" in printed and "5 seeds summarised" in printed
    assert summarise(exp_show(repo)) == summary  # the library on the real JSON, as the command


def test_the_command_reports_a_dvc_failure_in_one_line(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "stages.seed_summary"], cwd=tmp_path, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: `dvc exp show --json` failed") and proc.stderr.count("\n") == 1
