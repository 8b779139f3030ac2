"""Median and spread of every headline score over the seed experiments (README: Several seeds).

Not a DVC stage: it reads DVC's experiments (``dvc exp show --json``), which a stage cannot.
Run it after ``dvc exp run --queue -S seed=...`` (one per seed) and ``dvc exp run --run-all``::

    python -m stages.seed_summary [--out metrics/seeds.json] [EXP ...]

Without EXP, every experiment of the current commit is pooled; they must differ in nothing
but ``seed``.  Writes the JSON, a figure beside it (same name, .png), and prints a table.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: CI and laptops without a display
import matplotlib.pyplot as plt  # noqa: E402

from pipeline import paths  # noqa: E402
from pipeline.errors import InputError  # noqa: E402
from pipeline.seed_sweep import exp_show, summarise, table  # noqa: E402
from stages.common import write_json  # noqa: E402

DEFAULT_OUT = paths.METRICS / "seeds.json"
#: The kNN curves drawn per survey: the encoder's at every k, then the two baselines (at the
#: paper's k only, as the headline holds them: one point each).
CURVES = ("knn", "baseline.pixels", "baseline.random_init")


def figure(summary: dict, path: Path) -> None:
    """Per survey, each kNN curve's median over the seeds against k, with the min-max band."""
    surveys = summary["surveys"]
    fig, axes = plt.subplots(1, len(surveys), figsize=(4.2 * len(surveys), 3.4), squeeze=False)
    for ax, (survey, metrics) in zip(axes[0], surveys.items()):
        for curve in CURVES:
            points = sorted((int(m.group(1)), s) for key, s in metrics.items()
                            if (m := re.fullmatch(rf"{re.escape(curve)}\.k(\d+)", key)))
            if not points:
                continue
            ks = [k for k, _ in points]
            ax.plot(ks, [s["median"] for _, s in points], marker="o", label=curve)
            ax.fill_between(ks, [s["min"] for _, s in points], [s["max"] for _, s in points], alpha=0.2)
        ax.set_title(survey)
        ax.set_xlabel("k")
    axes[0][0].set_ylabel("kNN accuracy (%)")
    fig.suptitle(f"median of {len(summary['experiments'])} seeds; band: min to max", fontsize=10)
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("experiments", nargs="*", metavar="EXP",
                        help="experiment names to pool (default: all of the current commit)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"summary JSON (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    try:
        summary = summarise(exp_show(), args.experiments)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    write_json(args.out, summary)
    figure(summary, args.out.with_suffix(".png"))
    print(table(summary))
    for seed, d in summary["duplicate_seeds"].items():
        print(f"seed {seed} ran more than once: counted once, from {d['kept']} (not {', '.join(d['dropped'])})")
    print(f"{len(summary['experiments'])} seeds summarised to {args.out} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
