"""Stage `cross_summary`: the cross-survey matrix as metrics and a heatmap (paper Fig. 11)."""
from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")  # headless: CI and laptops without a display
import matplotlib.pyplot as plt  # noqa: E402

from pipeline import paths  # noqa: E402
from pipeline.params import Params  # noqa: E402
from stages.common import stage_main, write_json  # noqa: E402


def collect(params: Params) -> dict[str, dict[str, dict]]:
    """``{model: {target: scores}}`` over the surveys of the current run, subsets included."""
    return {model: {t: s for target in params.surveys
                    for t, s in json.loads(paths.cross_scores_file(model, target).read_text()).items()}
            for model in params.surveys}


def heatmap(matrix: dict[str, dict[str, dict]], key: str, k: int, path) -> None:
    models = list(matrix)
    targets = list(next(iter(matrix.values())))
    values = [[matrix[m][t][key] for t in targets] for m in models]
    fig, ax = plt.subplots(figsize=(1.6 + 1.5 * len(targets), 1.2 + 0.8 * len(models)))
    im = ax.imshow(values, cmap="viridis", vmin=min(map(min, values)) - 5, vmax=100)
    ax.set_xticks(range(len(targets)), targets, rotation=30, ha="right")
    ax.set_yticks(range(len(models)), [f"M-{m}" for m in models])
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            ax.text(j, i, f"{v:.1f}", ha="center", va="center", color="white" if v < 90 else "black")
    ax.set_xlabel("target survey (test split queries, train split bank)")
    ax.set_title(f"cross-survey {key} accuracy (%), k = {k}")
    fig.colorbar(im, ax=ax, fraction=0.04)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(params: Params) -> None:
    matrix = collect(params)
    write_json(paths.CROSS_SUMMARY, matrix)
    heatmap(matrix, "knn", params.cross.k, paths.CROSS_HEATMAP)
    print(f"cross-survey matrix of {len(matrix)} models written to {paths.CROSS_SUMMARY}")


def main(argv: list[str] | None = None) -> None:
    stage_main(__doc__, run, (), argv)


if __name__ == "__main__":
    main()
