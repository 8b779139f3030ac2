"""Simulated Galaxy Zoo volunteers: what they perceive of a galaxy, and how they vote.

Volunteers answer from what the image shows, not from the truth.  Detail fades with resolution
(half-light radius over PSF FWHM) and with surface-brightness signal-to-noise; the PSF makes
small galaxies look rounder; thin smooth galaxies look like disks; arms need more resolution than
"features".  Unresolved or faint galaxies therefore get split votes, biased towards "smooth"
(the bias Hart et al. 2016 correct with their debiased fractions), and the selection thresholds
of Wei et al. 2022 (Table 1) keep only the clear examples, as on real data.

The answer probabilities follow the GZ2 / GZ DECaLS decision tree: ``features`` is asked of
everyone, ``edge_on`` of "features" voters, ``spiral`` of edge-on "no" voters, ``rounded`` of
"smooth" voters.  Each galaxy's probabilities are jittered (Dirichlet) before the multinomial
votes, and a share of volunteers click at random.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.surveys.sim.config import InstrumentCfg, VolunteersCfg
from pipeline.surveys.sim.profiles import flux_nmgy

#: The tree's tasks and their answers (schema-neutral names; ``votes.py`` maps them).
TREE: dict[str, tuple[str, ...]] = {
    "features": ("smooth", "features", "artifact"),
    "edge_on": ("yes", "no"),
    "spiral": ("yes", "no"),
    "rounded": ("round", "in_between", "cigar"),
}
#: Which answer of which task leads to each task (None: asked of every volunteer).
PARENT: dict[str, tuple[str, int] | None] = {
    "features": None,
    "edge_on": ("features", 1),
    "spiral": ("edge_on", 1),
    "rounded": ("features", 0),
}

FWHM_PER_SIGMA = 2 * np.sqrt(2 * np.log(2))  # Gaussian
R50_PER_SIGMA = np.sqrt(2 * np.log(2))  # Gaussian half-light radius


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


@dataclass(frozen=True)
class Perception:
    """Per-galaxy answer probabilities of each task (rows sum to one) and detail visibility."""

    probs: dict[str, np.ndarray]  # task -> (N, n_answers)
    visibility: np.ndarray  # (N,) in [0, 1]: 1 = every detail visible


@dataclass(frozen=True)
class _Seen:
    """What an image shows of each galaxy."""

    visibility: np.ndarray  # of structure in general
    arm_visibility: np.ndarray  # of spiral arms, which need more resolution
    axis_ratio: np.ndarray  # of the whole light
    disk_axis_ratio: np.ndarray  # of the disk alone


def _seen(truth: pd.DataFrame, instrument: InstrumentCfg, vol: VolunteersCfg, ideal: bool) -> _Seen:
    bt = truth["bulge_to_total"].to_numpy()
    disk_q = truth["disk_q"].to_numpy()
    q = bt * truth["bulge_q"].to_numpy() + (1 - bt) * disk_q
    if ideal:
        everything = np.ones_like(q)
        return _Seen(everything, everything, q, disk_q)
    r50 = truth["true_th50"].to_numpy()
    seeing = truth["psf_fwhm"].to_numpy()
    sky_sigma = flux_nmgy(instrument.sky_sb_1sigma["r"])  # nmgy in a 1" x 1" box
    snr = 0.5 * flux_nmgy(truth["mag_r"].to_numpy()) / (sky_sigma * np.sqrt(np.pi) * r50)  # inside r50
    depth = _sigmoid(np.log(snr / vol.snr_half) / vol.snr_width)
    resolution = r50 / seeing
    return _Seen(
        visibility=_sigmoid(np.log(resolution / vol.resolution_half) / vol.resolution_width) * depth,
        arm_visibility=_sigmoid(np.log(resolution / vol.arm_resolution_half) / vol.resolution_width) * depth,
        axis_ratio=_blurred_axis_ratio(q, r50, seeing),
        disk_axis_ratio=_blurred_axis_ratio(disk_q, truth["r50"].to_numpy(), seeing),
    )


def perceive(truth: pd.DataFrame, instrument: InstrumentCfg, vol: VolunteersCfg, difficulty: float,
             *, ideal: bool = False) -> Perception:
    """Answer probabilities volunteers would give each galaxy through ``instrument``.

    ``ideal=True`` gives what they would answer with every detail visible (infinite resolution
    and depth): the target of the debiased fractions.
    """
    seen = _seen(truth, instrument, vol, ideal)
    gain = 1 / difficulty
    bt = truth["bulge_to_total"].to_numpy()
    arm_contrast = truth["arm_strength"].to_numpy() * seen.arm_visibility * seen.disk_axis_ratio  # fades inclined
    # Visible arms make a bulge-dominated disk "featured" too; thin smooth objects look like disks.
    disk_evidence = np.tanh((1 - bt + vol.features_arm_weight * arm_contrast - vol.features_disk_half)
                            / vol.features_disk_width)
    thin = _sigmoid((vol.thin_axis_ratio - seen.axis_ratio) / vol.thin_width)
    logit = (gain * (vol.features_gain * seen.visibility * disk_evidence + vol.thin_gain * thin)
             + (1 - seen.visibility) * vol.faint_smooth_logit)
    features = (1 - vol.artifact_rate) * _sigmoid(logit)
    # A thin disk reads as edge-on even through a round bulge: judge the disk's own shape.
    edge_on = _sigmoid(gain * (vol.edge_on_axis_ratio - seen.disk_axis_ratio) / vol.edge_on_width)
    spiral = _sigmoid(gain * (arm_contrast - vol.arm_half) / vol.arm_width)
    round_ = _sigmoid(gain * (seen.axis_ratio - vol.round_axis_ratio) / vol.rounded_width)
    cigar = _sigmoid(gain * (vol.cigar_axis_ratio - seen.axis_ratio) / vol.rounded_width)
    rounded = np.stack([round_, np.clip(1 - round_ - cigar, 0, None), cigar], axis=1)
    probs = {
        "features": np.stack([1 - vol.artifact_rate - features, features,
                              np.full_like(features, vol.artifact_rate)], axis=1),
        "edge_on": np.stack([edge_on, 1 - edge_on], axis=1),
        "spiral": np.stack([spiral, 1 - spiral], axis=1),
        "rounded": rounded / rounded.sum(axis=1, keepdims=True),
    }
    return Perception(probs=probs, visibility=seen.visibility)


def _blurred_axis_ratio(q: np.ndarray, r50: np.ndarray, psf_fwhm: np.ndarray) -> np.ndarray:
    """Axis ratio after PSF convolution, adding Gaussian-equivalent second moments."""
    sigma = r50 / R50_PER_SIGMA
    sigma_psf = psf_fwhm / FWHM_PER_SIGMA
    return np.sqrt(((q * sigma) ** 2 + sigma_psf ** 2) / (sigma ** 2 + sigma_psf ** 2))


@dataclass(frozen=True)
class TaskVotes:
    """Votes on one task: counts and GZ2 user-weighted counts, (N, n_answers) each."""

    count: np.ndarray
    weight: np.ndarray

    def fractions(self, weighted: bool = False) -> np.ndarray:
        """Share of each answer among the task's votes (0 where nobody was asked)."""
        votes = self.weight if weighted else self.count
        total = votes.sum(axis=1, keepdims=True)
        return np.divide(votes, total, out=np.zeros_like(votes, dtype=float), where=total > 0)


def vote(probs: np.ndarray, n_asked: np.ndarray, n_clickers: np.ndarray, vol: VolunteersCfg,
         rng: np.random.Generator) -> tuple[TaskVotes, np.ndarray, np.ndarray]:
    """One task's votes from ``n_asked`` volunteers of whom ``n_clickers`` answer at random.

    Returns the votes and, per answer, how many careful and random volunteers gave it (so that a
    follow-up task is asked of exactly those).
    """
    n_answers = probs.shape[1]
    # Dirichlet jitter: volunteers disagree more than a multinomial alone would give.
    alpha = np.clip(vol.concentration * probs, 1e-6, None)
    jittered = rng.gamma(alpha)
    jittered /= jittered.sum(axis=1, keepdims=True)
    careful = rng.multinomial(n_asked - n_clickers, jittered)
    random = rng.multinomial(n_clickers, np.full((len(probs), n_answers), 1 / n_answers))
    votes = TaskVotes(count=careful + random, weight=careful + vol.clicker_weight * random)
    return votes, careful, random


def vote_tree(perception: Perception, n_volunteers: np.ndarray, vol: VolunteersCfg,
              rng: np.random.Generator) -> dict[str, TaskVotes]:
    """Votes on every task of the decision tree, each asked of its parent answer's voters."""
    n_clickers = rng.binomial(n_volunteers, vol.clicker_fraction)
    answered: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # task -> (careful, random) per answer
    out: dict[str, TaskVotes] = {}
    for task in TREE:  # parents come before children
        parent = PARENT[task]
        if parent is None:
            n_asked, n_random = n_volunteers, n_clickers
        else:
            careful, random = answered[parent[0]]
            n_asked = careful[:, parent[1]] + random[:, parent[1]]
            n_random = random[:, parent[1]]
        votes, careful, random = vote(perception.probs[task], n_asked, n_random, vol, rng)
        answered[task] = (careful, random)
        out[task] = votes
    return out
