"""Stage `ablation@<survey>`: fusion vs CNN-only vs ViT-only encoders (paper Sect. 4.3, Fig. 6)."""
from __future__ import annotations

from pipeline import paths
from pipeline.ablation import FUSION, plot_curves, read_curves, scores
from pipeline.embeddings import load_embeddings
from pipeline.params import Params, Survey
from stages.common import survey_stage, write_json


def run(name: str, survey: Survey, params: Params) -> None:
    ev = params.evaluate
    sources = {FUSION: (paths.embeddings_dir(name), paths.train_live_dir(name))}
    for branch in params.ablation.branches:
        sources[branch] = (paths.ablation_embeddings_dir(name, branch), paths.ablation_live_dir(name, branch))
    metrics, curves = {}, {}
    for encoder, (embeddings, live_dir) in sources.items():
        metrics[encoder] = scores(load_embeddings(embeddings), ev.representation, list(ev.ks), ev.k,
                                  list(survey.classes), search=params.knn)
        curves[encoder] = read_curves(live_dir)
    write_json(paths.ablation_metrics(name), metrics)
    plot_curves(curves, name, paths.ablation_plot(name))
    k = f"k{ev.k}"
    print(f"{name}: kNN {k} " + ", ".join(f"{e} {m['knn'][k]:.2f}%" for e, m in metrics.items()))


def main(argv: list[str] | None = None) -> None:
    survey_stage(__doc__, run, argv)


if __name__ == "__main__":
    main()
