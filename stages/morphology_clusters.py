"""Stage `morphology_clusters@<survey>`: the Table 4 measures per cluster (paper Table 5, Fig. 15).

Means of each cluster's measured galaxies -> metrics/morphology/<survey>.json; histograms of the
two clusters ``survey.<name>.morphology.compare_clusters`` -> metrics/morphology/<survey>/histograms.png.
"""
from __future__ import annotations

import pandas as pd

from pipeline import paths
from pipeline.morphology_clusters import check_compare, cluster_means, join, plot_histograms
from pipeline.params import Params, Survey
from stages.common import survey_stage, write_json


def run(name: str, survey: Survey, params: Params) -> None:
    measures_file, clusters_file = paths.morphology_file(name), paths.cluster_file(name)
    table = join(pd.read_csv(measures_file, keep_default_na=True), pd.read_csv(clusters_file),
                 measures_file, clusters_file)
    compare = tuple(survey.morphology.compare_clusters)
    check_compare(compare, int(table["cluster"].max()), name)
    metrics = cluster_means(table)
    write_json(paths.morphology_metrics(name), metrics)
    plot_histograms(table, compare, f"{name}: clusters {compare[0]} and {compare[1]}",
                    paths.morphology_plots_dir(name) / "histograms.png")
    a, b = (metrics["clusters"][str(c)] for c in compare)
    unmeasured = int((~table["measured"]).sum())
    print(f"{name}: {len(metrics['clusters'])} clusters, {unmeasured} of {len(table)} galaxies unmeasured; "
          f"C{compare[0]} vs C{compare[1]}: " + ", ".join(f"{m} {a[m]} / {b[m]}" for m in ("G", "M20", "Reff")))


def main(argv: list[str] | None = None) -> None:
    survey_stage(__doc__, run, argv)


if __name__ == "__main__":
    main()
