"""Vote tables of the simulated volunteers, in each real catalogue's schema (``schemas.py``).

- ``gz2_hart16``: Hart et al. 2016 counts, user-weighted counts, fractions, weighted fractions,
  debiased fractions and flags per answer; ``gz2_class`` simplified to E{r,i,c} / Se / S / A
  (the bulge, bar and arm-count tasks are not simulated).
- ``gz_decals_volunteers_5``: Walmsley et al. 2022 counts, fractions, debiased fractions and
  per-question totals.
- ``zoonospec``: Galaxy Zoo 1's single six-answer question (p_el ... p_mg, p_cs) plus the
  Galaxy view's ``clean`` flag.

Debiased fractions add back what poor resolution and depth took away: the vote fraction plus
the difference between the ideal and the perceived answer probability (``volunteers.perceive``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.surveys import schemas
from pipeline.surveys.sim.config import SimSourceCfg, VolunteersCfg
from pipeline.surveys.sim.profiles import magnitude_ratio
from pipeline.surveys.sim.volunteers import TREE, Perception, TaskVotes, perceive, vote, vote_tree

#: Tree task -> Hart16 task name and GZ DECaLS question (answers in the same order as TREE's).
HART16_TASK = {"features": "smooth_or_features", "edge_on": "edgeon", "spiral": "spiral", "rounded": "rounded"}
DECALS_QUESTION = {"features": "smooth-or-featured", "edge_on": "disk-edge-on",
                   "spiral": "has-spiral-arms", "rounded": "how-rounded"}
ROUNDED_CODES = ("r", "i", "c")  # gz2_class letter of each ``rounded`` answer


def vote_table(cfg: SimSourceCfg, ids: pd.DataFrame, truth: pd.DataFrame,
               rng: np.random.Generator) -> pd.DataFrame:
    """The survey's vote catalogue: ``ids`` (id columns, ra, dec) followed by the vote columns."""
    vol = cfg.population.volunteers
    seen = perceive(truth, cfg.instrument, vol, cfg.votes.difficulty)
    n_volunteers = rng.integers(cfg.votes.n_volunteers[0], cfg.votes.n_volunteers[1] + 1, size=len(truth))
    if cfg.schema == "zoonospec":
        return _zoonospec(cfg, ids, truth, seen, n_volunteers, rng)
    votes = vote_tree(seen, n_volunteers, vol, rng)
    ideal = perceive(truth, cfg.instrument, vol, cfg.votes.difficulty, ideal=True)
    debiased = {task: _debias(votes[task], seen.probs[task], ideal.probs[task]) for task in TREE}
    if cfg.schema == "gz2_hart16":
        return _hart16(cfg, ids, votes, debiased, n_volunteers)
    return _decals(ids, truth, votes, debiased)


def _debias(votes: TaskVotes, seen: np.ndarray, ideal: np.ndarray) -> np.ndarray:
    fractions = votes.fractions()
    asked = fractions.sum(axis=1, keepdims=True) > 0
    corrected = np.clip(fractions + ideal - seen, 0, None)
    total = corrected.sum(axis=1, keepdims=True)
    return np.where(asked & (total > 0), corrected / np.where(total > 0, total, 1), 0.0)


def _hart16(cfg: SimSourceCfg, ids: pd.DataFrame, votes: dict[str, TaskVotes],
            debiased: dict[str, np.ndarray], n_volunteers: np.ndarray) -> pd.DataFrame:
    columns: dict[str, np.ndarray] = {}
    for task, task_votes in votes.items():
        name = HART16_TASK[task]
        answers = schemas.HART16_TASKS[name][1]
        task_total = task_votes.count.sum(axis=1)
        per_suffix = {
            "count": task_votes.count,
            "weight": task_votes.weight,
            "fraction": task_votes.fractions(),
            "weighted_fraction": task_votes.fractions(weighted=True),
            "debiased": debiased[task],
            "flag": ((debiased[task] >= cfg.votes.flag_debiased)
                     & (task_total[:, None] >= cfg.votes.flag_min_votes)).astype(np.int64),
        }
        for j, answer in enumerate(answers):
            for suffix in schemas.HART16_SUFFIXES:
                columns[schemas.hart16_column(name, answer, suffix)] = per_suffix[suffix][:, j]
    meta = {
        "gz2_class": _gz2_class(votes),
        "total_classifications": n_volunteers.astype(np.int64),
        "total_votes": sum(v.count.sum(axis=1) for v in votes.values()).astype(np.int64),
    }
    table = pd.concat([ids.reset_index(drop=True), pd.DataFrame(meta), pd.DataFrame(columns)], axis=1)
    return table[list(schemas.hart16_columns())]


def _gz2_class(votes: dict[str, TaskVotes]) -> np.ndarray:
    """Majority path through the tree: E + roundness, Se (edge-on), S (face-on disk), A (artifact)."""
    first = votes["features"].count.argmax(axis=1)
    edge_on = votes["edge_on"].count.argmax(axis=1) == 0
    rounded = np.array(ROUNDED_CODES)[votes["rounded"].count.argmax(axis=1)]
    smooth = np.char.add("E", rounded)
    disk = np.where(edge_on, "Se", "S")
    return np.select([first == 0, first == 1], [smooth, disk], default="A").astype(object)


def _decals(ids: pd.DataFrame, truth: pd.DataFrame, votes: dict[str, TaskVotes],
            debiased: dict[str, np.ndarray]) -> pd.DataFrame:
    columns: dict[str, np.ndarray] = {"petro_th50": truth["petro_th50"].to_numpy(),
                                      "petro_th90": truth["petro_th90"].to_numpy()}
    for task, task_votes in votes.items():
        question = DECALS_QUESTION[task]
        fractions = task_votes.fractions()
        for j, answer in enumerate(schemas.DECALS_QUESTIONS[question]):
            columns[schemas.decals_column(question, answer, "count")] = task_votes.count[:, j]
            columns[schemas.decals_column(question, answer, "fraction")] = fractions[:, j]
            columns[schemas.decals_column(question, answer, "debiased")] = debiased[task][:, j]
        columns[schemas.decals_total_column(question)] = task_votes.count.sum(axis=1)
    table = pd.concat([ids.reset_index(drop=True), pd.DataFrame(columns)], axis=1)
    return table[list(schemas.decals_columns())]


def gz1_probabilities(truth: pd.DataFrame, seen: Perception, vol: VolunteersCfg) -> np.ndarray:
    """Galaxy Zoo 1 answer probabilities (columns as ``schemas.ZOONOSPEC_ANSWERS``).

    A close, bright companion draws merger votes; invisible detail draws "don't know"; spirals
    with visible arms get the winding they show (with some confusion), other disks "edge-on or
    unclear direction".
    """
    companion = (truth["has_companion"].to_numpy() * magnitude_ratio(truth["companion_dmag"].to_numpy())
                 / truth["companion_sep_r50"].to_numpy())
    merger = 1 - np.exp(-vol.merger_gain * companion)
    features = seen.probs["features"]
    dont_know = np.clip(vol.dont_know_rate + vol.dont_know_gain * (1 - seen.visibility) + features[:, 2], 0, 1)
    rest = np.clip(1 - merger - dont_know, 0, None)
    smooth_share = features[:, 0] / (features[:, 0] + features[:, 1])
    disk = rest * (1 - smooth_share)
    arms = disk * seen.probs["edge_on"][:, 1] * seen.probs["spiral"][:, 0]
    shown = np.where(truth["clockwise"].to_numpy(), 1 - vol.chirality_confusion, vol.chirality_confusion)
    probs = np.stack([rest * smooth_share, arms * shown, arms * (1 - shown), disk - arms, dont_know, merger],
                     axis=1)
    return probs / probs.sum(axis=1, keepdims=True)


def _zoonospec(cfg: SimSourceCfg, ids: pd.DataFrame, truth: pd.DataFrame, seen: Perception,
               n_volunteers: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    vol = cfg.population.volunteers
    n_clickers = rng.binomial(n_volunteers, vol.clicker_fraction)
    votes, _, _ = vote(gz1_probabilities(truth, seen, vol), n_volunteers, n_clickers, vol, rng)
    fractions = votes.fractions()
    columns = {name: fractions[:, j] for j, name in enumerate(schemas.ZOONOSPEC_ANSWERS)}
    columns[schemas.ZOONOSPEC_COMBINED_SPIRAL] = columns["p_cw"] + columns["p_acw"] + columns["p_edge"]
    columns["nvote"] = n_volunteers.astype(np.int64)
    columns["rastring"] = np.array([schemas.ra_string(ra) for ra in ids["ra"]], dtype=object)
    columns[schemas.GALAXY_CLEAN] = (rng.random(len(truth)) < cfg.votes.clean_fraction).astype(np.int64)
    table = pd.concat([ids.reset_index(drop=True), pd.DataFrame(columns)], axis=1)
    return table[list(schemas.ZOONOSPEC_COLUMNS) + [schemas.GALAXY_CLEAN]]
