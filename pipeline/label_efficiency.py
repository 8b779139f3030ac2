"""Contrastive vs supervised on few labels (paper Sect. 4.3, Fig. 7).

For each label budget, a class-balanced, seeded subset of the train split is the only labelled
data: the frozen contrastive representation is read by a kNN and by a logistic-regression probe
fitted on the subset, and the supervised baseline (pipeline/supervised.py) is trained on it from
scratch.  All three are scored on the whole test split.

Subsets are nested: every class's train galaxies are shuffled once (seeded), and a budget takes
the first ``share`` of each class, so a larger budget only adds galaxies and the curve is
monotone in data.  A class with fewer train galaxies than its share gives all it has (said, and
recorded as ``capped``); a budget of at least the train split's size is the whole train split.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import matplotlib

matplotlib.use("Agg")  # headless: CI and laptops without a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from pipeline import progress  # noqa: E402
from pipeline.config import ConfigError  # noqa: E402
from pipeline.errors import InputError  # noqa: E402
from pipeline.knn import knn_predict  # noqa: E402
from pipeline.metrics import accuracy  # noqa: E402
from pipeline.params import Knn, LabelEfficiency  # noqa: E402
from pipeline.prepare import Prepared  # noqa: E402
from pipeline.supervised import Setup, predict, train_classifier  # noqa: E402

#: lbfgs iterations of the linear probe: far more than it needs on these few-hundred-dimensional,
#: few-thousand-row problems, so that the probe is always fitted to convergence.
LINEAR_MAX_ITER = 10_000


@dataclass(frozen=True)
class Subset:
    """One label budget: ``rows`` index the train split (ascending)."""

    size: int                                  # labelled galaxies asked for
    rows: np.ndarray
    capped: dict[str, dict[str, int]]          # class -> {"asked": share, "available": train galaxies}
    whole_split: bool                          # the budget is at least the train split


def class_shares(size: int, n_classes: int) -> list[int]:
    """``size`` split evenly over the classes; the remainder goes one each to the first classes
    (in params order), so that every share grows with ``size`` (subsets stay nested)."""
    base, extra = divmod(size, n_classes)
    return [base + (c < extra) for c in range(n_classes)]


def balanced_subsets(labels: np.ndarray, classes: list[str], sizes: list[int], seed: int) -> list[Subset]:
    """Nested class-balanced subsets of a split with class ids ``labels``, one per size."""
    rng = np.random.default_rng(seed)
    order = [rng.permutation(np.flatnonzero(labels == c)) for c in range(len(classes))]
    subsets = []
    for size in sizes:
        shares = class_shares(size, len(classes))
        capped = {classes[c]: {"asked": share, "available": len(order[c])}
                  for c, share in enumerate(shares) if share > len(order[c])}
        whole = size >= len(labels)
        rows = (np.arange(len(labels)) if whole
                else np.sort(np.concatenate([o[:share] for o, share in zip(order, shares)])))
        subsets.append(Subset(size, rows, capped, whole))
    return subsets


def notes(subset: Subset, survey: str) -> list[str]:
    """The lines that say a budget was not met as asked."""
    lines = [f"{survey}: {subset.size} labels asked, the train split has {len(subset.rows)}: using all of it"
             ] if subset.whole_split else []
    return lines + [f"{survey}: {subset.size} labels: class {c!r} asked {v['asked']}, available {v['available']} "
                    f"in the train split: capped at {v['available']}" for c, v in subset.capped.items()]


def knn_accuracy(bank: np.ndarray, bank_labels: np.ndarray, queries: np.ndarray, query_labels: np.ndarray,
                 k: int, n_classes: int, *, search: Knn | None = None) -> tuple[float, dict | None]:
    """Test accuracy (%) of the kNN (pipeline/knn.py: cosine, majority, ties to the lowest class)
    with the subset as bank; ``k`` is capped at the bank's size.  Second: the approximate index's
    recall where ``search`` (params ``knn``) made the kNN approximate, else None."""
    k = min(k, len(bank))
    preds, recall = knn_predict(bank, bank_labels, queries, [k], n_classes, search=search)
    return accuracy(preds[k], query_labels), recall.as_dict() if recall else None


def linear_accuracy(bank: np.ndarray, bank_labels: np.ndarray, queries: np.ndarray, query_labels: np.ndarray,
                    c: float) -> float:
    """Test accuracy (%) of scikit-learn's multinomial logistic regression (L2, inverse strength
    ``c``) fitted on the subset's frozen representation, standardised with the subset's own mean
    and std: the penalty then means the same whatever the representation's scale (the unit-norm
    projection's features are about 100 times smaller than the backbone's)."""
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=LINEAR_MAX_ITER))
    probe.fit(bank, bank_labels)
    return accuracy(probe.predict(queries), query_labels)


def _load_result(path: Path, fingerprint: str) -> float | None:
    if not path.exists():
        return None
    saved = json.loads(path.read_text())
    return saved["supervised"] if saved.get("fingerprint") == fingerprint else None


def _save_result(path: Path, fingerprint: str, acc: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"fingerprint": fingerprint, "supervised": acc}) + "\n")
    os.replace(tmp, path)  # atomic: a kill leaves no half-written result


def supervised_accuracy(images: np.ndarray, labels: np.ndarray, test_images: np.ndarray, test_labels: np.ndarray,
                        setup: Setup, saved: Path, device: torch.device, desc: str,
                        known: dict[str, float]) -> tuple[float, bool]:
    """(test accuracy %, whether it was read back) of the supervised baseline on one subset.

    The result is saved to ``saved`` under a fingerprint of everything it depends on, so a stage
    interrupted later resumes without training this subset again; ``known`` (fingerprint ->
    accuracy) holds this run's results, so budgets that give the same galaxies (all those beyond
    the train split) train once.
    """
    fingerprint = setup.fingerprint([images, labels, test_images, test_labels], device)
    acc = known.get(fingerprint)
    if acc is None:
        acc = _load_result(saved, fingerprint)
    reused = acc is not None
    if not reused:
        model = train_classifier(images, labels, setup, device, desc=desc)
        acc = accuracy(predict(model, test_images, setup, setup.cfg.batch_size, device), test_labels)
    _save_result(saved, fingerprint, acc)
    known[fingerprint] = acc
    return acc, reused


def curve(prepared: Prepared, features: np.ndarray, classes: list[str], le: LabelEfficiency, setup: Setup,
          checkpoints: Path, device: torch.device, survey: str,
          say: Callable[[str], None] = progress.write, search: Knn | None = None) -> dict[str, dict]:
    """Per label budget (key ``str(size)``): ``supervised``, ``knn``, ``linear`` test accuracy (%),
    ``n_used`` and ``capped`` (and ``knn_search``, the recall, where ``search``, params ``knn``, made
    the kNN approximate).  ``features``: the frozen representation, one row per prepared galaxy."""
    split = prepared.index["split"].to_numpy()
    labels = prepared.index["label_id"].to_numpy()
    train, test = np.flatnonzero(split == "train"), np.flatnonzero(split == "test")
    if len(test) == 0 or len(train) == 0:
        raise InputError(f"{survey}: label efficiency needs train and test galaxies, the prepared data has "
                         f"{len(train)} train and {len(test)} test")
    for i, size in enumerate(le.sizes):
        if size < len(classes):
            raise ConfigError(f"label_efficiency.sizes.{i}: {size} labels cannot cover the {len(classes)} "
                              f"classes of {survey}")
    test_images = np.asarray(prepared.images[test])
    results, known = {}, {}
    for subset in balanced_subsets(labels[train], classes, list(le.sizes), setup.seed):
        for line in notes(subset, survey):
            say(line)
        rows = train[subset.rows]
        bank, bank_labels = features[rows], labels[rows]
        sup, reused = supervised_accuracy(np.asarray(prepared.images[rows]), bank_labels, test_images, labels[test],
                                          setup, checkpoints / f"{subset.size}.json", device,
                                          f"supervised, {len(rows)} labels", known)
        knn, knn_search = knn_accuracy(bank, bank_labels, features[test], labels[test], le.k, len(classes),
                                       search=search)
        results[str(subset.size)] = {
            "supervised": sup,
            "knn": knn,
            "linear": linear_accuracy(bank, bank_labels, features[test], labels[test], le.linear_c),
            "n_used": len(rows),
            "capped": subset.capped,
            **({"knn_search": knn_search} if knn_search else {}),
        }
        r = results[str(subset.size)]
        say(f"{survey}: {len(rows)} labels: supervised {r['supervised']:.2f}%{' (reused)' if reused else ''}, "
            f"kNN {r['knn']:.2f}%, linear {r['linear']:.2f}%")
    return results


def plot_curve(results: dict[str, dict], survey: str, k: int, path: Path) -> None:
    """Test accuracy against labelled galaxies on a log2 axis, three curves (paper Fig. 7)."""
    n = [r["n_used"] for r in results.values()]
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for key, label, marker in (("supervised", "SL: same encoder, from scratch", "s"),
                               ("knn", f"CL: kNN (k={k}) on frozen representation", "o"),
                               ("linear", "CL: linear probe on frozen representation", "^")):
        ax.plot(n, [r[key] for r in results.values()], marker=marker, label=label)
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(set(n)), [str(v) for v in sorted(set(n))], rotation=45)  # 1024 and 1273 sit close
    ax.minorticks_off()
    ax.set_xlabel("labelled training galaxies")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{survey}: contrastive vs supervised (paper Fig. 7)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
