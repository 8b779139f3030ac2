"""Median and spread of the kNN scores over DVC experiments that differ only in the seed.

The paper's Table 3 is the median of 5 runs.  Here each run is a DVC experiment queued with
``dvc exp run --queue -S seed=...`` (README: Several seeds); this module reads what
``dvc exp show --json`` says about them and summarises, per survey, every score of
``metrics/headline/<survey>.json`` (the only metrics file, so the only one ``dvc exp show``
reads): n, median, min, max and the interquartile range (75th minus 25th percentile, numpy's
linear interpolation) as the spread.

The shape of ``dvc exp show --json`` (DVC 3): a list of rows, the workspace first, then one per
baseline commit (HEAD only, by default); a baseline's ``experiments`` are
``{"name", "executor": {"state": "queued" | "running" | "success" | "failed", ...} | None,
"revs": [{"rev", "name", "error", "data": {"timestamp", "params", "metrics"}}]}``, where
``params`` and ``metrics`` map each file to ``{"data": ...}`` or ``{"error": ...}``.
"""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from pipeline import paths
from pipeline.errors import InputError

#: The params key that may differ between the pooled experiments.
SEED_KEY = "seed"
#: The params file whose keys `dvc exp run -S` names without a ``file:`` prefix.
DEFAULT_PARAMS_FILE = "params.yaml"
SPREAD = "iqr"
SPREAD_DOC = "iqr: 75th minus 25th percentile of the per-seed values (numpy, linear interpolation)"


class SeedSweepError(InputError):
    """The selected experiments cannot be pooled (none, unfinished, failed, or not one config)."""


@dataclass(frozen=True)
class Run:
    """One finished experiment: its params (flattened, dotted keys) and its headline scores."""
    name: str
    rev: str
    timestamp: str
    params: dict[str, Any]
    scores: dict[str, dict[str, float]]  # {survey: {"knn.k15": 90.2, ...}}

    @property
    def seed(self) -> Any:
        return self.params[SEED_KEY]


def exp_show(cwd: Path | None = None) -> list[dict]:
    """``dvc exp show --json`` of the repository at ``cwd``, run with this interpreter's DVC."""
    proc = subprocess.run([sys.executable, "-m", "dvc", "exp", "show", "--json"], cwd=cwd,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()[-1]
        raise SeedSweepError(f"`dvc exp show --json` failed (exit {proc.returncode}): {last}")
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise SeedSweepError(f"`dvc exp show --json` printed no JSON ({exc}): {proc.stdout[:200]!r}") from exc


def _flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys; lists and scalars are leaves."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _unfinished(entry: dict) -> str | None:
    """Why an experiment of ``dvc exp show`` has no usable result, or None."""
    state = (entry.get("executor") or {}).get("state")
    if state in ("queued", "running"):
        return f"is {state}: wait until `dvc exp run --run-all` has run it"
    rev = entry["revs"][0] if entry.get("revs") else None
    if state == "failed" or rev is None or rev.get("error"):
        return f"failed (its log: `dvc queue logs {entry.get('name')}`)"
    return None


def _run(entry: dict) -> Run:
    name = entry.get("name") or entry["revs"][0]["rev"][:7]
    problem = _unfinished(entry)
    if problem:
        raise SeedSweepError(f"experiment {name} {problem}; leave it out by naming the experiments to "
                             f"pool, or remove it with `dvc exp remove {name}`")
    rev = entry["revs"][0]
    params: dict[str, Any] = {}
    for file, content in rev["data"]["params"].items():
        if "error" in content:
            raise SeedSweepError(f"experiment {name}: cannot read its {file}: {content['error'].get('msg')}")
        prefix = "" if file == DEFAULT_PARAMS_FILE else f"{file}:"
        params.update(_flatten(content.get("data") or {}, prefix))
    if SEED_KEY not in params:
        raise SeedSweepError(f"experiment {name}: {DEFAULT_PARAMS_FILE} has no `{SEED_KEY}` key")
    scores: dict[str, dict[str, float]] = {}
    for file, content in rev["data"]["metrics"].items():
        survey = Path(file).stem
        if Path(file) != paths.headline_metrics(survey):
            continue
        if "data" not in content:
            msg = (content.get("error") or {}).get("msg", "no data")
            raise SeedSweepError(f"experiment {name} has no metrics in {file}: {msg}")
        scores[survey] = {k: float(v) for k, v in _flatten(content["data"]).items()}
    if not scores:
        raise SeedSweepError(f"experiment {name} has no {paths.headline_metrics('<survey>')} metrics")
    return Run(name, rev["rev"], rev["data"].get("timestamp") or "", params, scores)


def select(show: list[dict], names: Sequence[str] = ()) -> list[Run]:
    """The named experiments (any baseline of ``show``), or all of the first baseline's (HEAD's)."""
    baselines = [row for row in show if row.get("rev") != "workspace"]
    if not baselines:
        raise SeedSweepError("`dvc exp show` lists no commit: is this a git repository with a commit?")
    if not names:
        entries = baselines[0].get("experiments") or []
        if not entries:
            raise SeedSweepError(f"no experiments of the current commit {baselines[0]['rev'][:7]}: queue "
                                 f"them with `dvc exp run --queue -S {SEED_KEY}=...`, then `dvc exp run --run-all`")
        return [_run(e) for e in entries]
    by_name = {e.get("name"): e for row in baselines for e in row.get("experiments") or []}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise SeedSweepError(f"no experiment named {', '.join(unknown)} in `dvc exp show`; "
                             f"there are: {', '.join(sorted(map(str, by_name))) or 'none'}")
    return [_run(by_name[n]) for n in dict.fromkeys(names)]


def check_same_config(runs: Sequence[Run]) -> None:
    """Refuse to pool experiments whose params differ in anything but the seed."""
    first = runs[0]
    for run in runs[1:]:
        keys = sorted(k for k in (first.params.keys() | run.params.keys()) - {SEED_KEY}
                      if first.params.get(k, "<absent>") != run.params.get(k, "<absent>"))
        if keys:
            shown = "; ".join(f"`{k}` is {first.params.get(k, '<absent>')!r} in {first.name} but "
                              f"{run.params.get(k, '<absent>')!r} in {run.name}" for k in keys[:3])
            more = f" (and {len(keys) - 3} more keys)" if len(keys) > 3 else ""
            raise SeedSweepError(f"experiments differ in params other than `{SEED_KEY}`, so their scores "
                                 f"cannot be pooled: {shown}{more}; name the experiments of one "
                                 f"configuration instead")


def distinct_seeds(runs: Sequence[Run]) -> tuple[list[Run], dict[str, dict]]:
    """One run per seed, the newest (by DVC's timestamp); and which runs each kept one replaced."""
    by_seed: dict[Any, list[Run]] = {}
    for run in sorted(runs, key=lambda r: r.timestamp, reverse=True):
        by_seed.setdefault(run.seed, []).append(run)
    kept = [group[0] for group in by_seed.values()]
    duplicates = {str(seed): {"kept": g[0].name, "dropped": [r.name for r in g[1:]]}
                  for seed, g in by_seed.items() if len(g) > 1}
    return kept, duplicates


def statistics(values: Sequence[float]) -> dict[str, float]:
    """n, median, spread (IQR), min and max of one score over the seeds."""
    v = np.asarray(values, dtype=float)
    q25, q75 = np.percentile(v, [25, 75])
    return {"n": int(v.size), "median": float(np.median(v)), SPREAD: float(q75 - q25),
            "min": float(v.min()), "max": float(v.max())}


def summarise(show: list[dict], names: Sequence[str] = ()) -> dict:
    """The summary of the selected experiments (see the module docstring), as JSON-ready data."""
    runs = select(show, names)
    check_same_config(runs)
    runs, duplicates = distinct_seeds(runs)
    if len(runs) < 2:
        raise SeedSweepError(f"a spread needs at least 2 seeds; the experiments "
                             f"({', '.join(r.name for r in runs)}) have only `{SEED_KEY}` = {runs[0].seed}")
    surveys: dict[str, dict[str, dict]] = {}
    for survey in runs[0].scores:
        keys = dict.fromkeys(k for r in runs for k in r.scores.get(survey, {}))
        surveys[survey] = {k: statistics([r.scores[survey][k] for r in runs if k in r.scores.get(survey, {})])
                           for k in keys}
    return {
        "spread": SPREAD_DOC,
        "experiments": [{"name": r.name, "rev": r.rev, SEED_KEY: r.seed} for r in runs],
        "duplicate_seeds": duplicates,  # a seed run twice counts once: its newest experiment
        "surveys": surveys,
    }


def table(summary: dict) -> str:
    """The summary as aligned text: survey, metric, median, spread, min-max, n."""
    rows = [("survey", "metric", "median", SPREAD, "min - max", "n")]
    for survey, metrics in summary["surveys"].items():
        for key, s in metrics.items():
            rows.append((survey, key, f"{s['median']:.4g}", f"{s[SPREAD]:.3g}",
                         f"{s['min']:.4g} - {s['max']:.4g}", str(s["n"])))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                     for r in rows)
