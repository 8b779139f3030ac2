"""Stage `cluster@<survey>`: hierarchical clustering of the test split (paper Sect. 4.5.1, Figs. 12-14)."""
from __future__ import annotations

import numpy as np

from pipeline import paths, prepare
from pipeline.cluster import cluster_vectors, galaxies_to_cluster, image_rows, scores, write_assignments
from pipeline.cluster_plots import dendrogram_figure, grid_figure, save, sizes_figure
from pipeline.embeddings import load_embeddings
from pipeline.params import Params, Survey
from stages.common import survey_stage, write_json


def run(name: str, survey: Survey, params: Params) -> None:
    config = params.cluster
    classes = list(survey.classes)
    threshold = survey.cluster.threshold
    test = galaxies_to_cluster(load_embeddings(paths.embeddings_dir(name)), config.representation, name)
    labels = test["label_id"]
    clusters = cluster_vectors(test["vectors"], config, threshold, f"survey.{name}.cluster.threshold")
    metrics = scores(clusters.clusters, labels, classes, threshold)
    write_json(paths.cluster_metrics(name), metrics)
    write_assignments(paths.cluster_file(name), test["id"], labels, clusters.clusters, classes)

    plots = paths.cluster_plots_dir(name)
    plots.mkdir(parents=True, exist_ok=True)
    title = f"{name}, {config.linkage} linkage of the {config.representation}"
    save(dendrogram_figure(clusters.tree, labels, classes, threshold, metrics["n_clusters"],
                           config.dendrogram_leaves, title), plots / "dendrogram.png")
    save(sizes_figure(clusters.clusters, labels, classes, title), plots / "sizes.png")
    prepared = prepare.load(paths.prepared_dir(name))
    images = np.asarray(prepared.images[image_rows(prepared.index["id"].to_numpy(), test["id"], name)])
    save(grid_figure(images, clusters.clusters, labels, classes, config.grid_max_clusters, config.grid_galaxies,
                     params.seed, name), plots / "grid.png")
    print(f"{name}: {metrics['n_clusters']} clusters of {metrics['n_galaxies']} test galaxies at distance "
          f"{threshold:g} (largest {metrics['sizes'][0]}); purity {metrics['purity']:.1f}%, "
          f"NMI {metrics['nmi']:.3f}, ARI {metrics['ari']:.3f}")


def main(argv: list[str] | None = None) -> None:
    survey_stage(__doc__, run, argv)


if __name__ == "__main__":
    main()
