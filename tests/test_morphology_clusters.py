"""Per-cluster means of the Table 4 measures (paper Table 5) and the Fig. 15 histograms, on a tiny
hand-made clustering (the cluster stage's file format: id, label, cluster)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline import paths
from pipeline.config import ConfigError
from pipeline.errors import InputError
from pipeline.morphology import COLUMNS, MEASURES
from pipeline.morphology_clusters import check_compare, cluster_means, join
from pipeline.params import load_params
from stages import morphology_clusters

#: Cluster 1: three galaxies, one failed; cluster 2: two galaxies, both measured; cluster 3: one
#: galaxy that failed (no means at all).
CLUSTERS = pd.DataFrame({"id": ["a", "b", "c", "d", "e", "f"],
                         "label": ["spiral", "spiral", "elliptical", "elliptical", "elliptical", "spiral"],
                         "cluster": [1, 1, 1, 2, 2, 3]})


def measures() -> pd.DataFrame:
    values = {"a": 1.0, "b": 3.0, "c": np.nan, "d": 10.0, "e": 20.0, "f": np.nan}
    rows = []
    for gid, v in values.items():
        ok = np.isfinite(v)
        rows.append({"id": gid, **{m: v * (i + 1) for i, m in enumerate(MEASURES)},
                     "flag": 0 if ok else 4, "flag_sersic": 0 if ok else 4,
                     "error": "" if ok else "no source 1.5 sigma above the sky"})
    return pd.DataFrame(rows, columns=list(COLUMNS)).iloc[::-1]  # order must not matter


def test_means_are_over_measured_galaxies_with_failures_counted():
    result = cluster_means(join(measures(), CLUSTERS, Path("m.csv"), Path("c.csv")))["clusters"]
    assert list(result) == ["1", "2", "3"]
    assert result["1"] == {"A": 2.0, "G": 4.0, "M20": 6.0, "SB0": 8.0, "Reff": 10.0, "n": 12.0,
                           "n_failed": 1, "size": 3}
    assert result["2"]["A"] == 15.0 and result["2"]["n_failed"] == 0 and result["2"]["size"] == 2
    assert result["3"] == {**dict.fromkeys(MEASURES), "n_failed": 1, "size": 1}


def test_a_finite_value_with_an_error_does_not_count():
    table = measures()
    table.loc[table["id"] == "b", "error"] = "statmorph flag 2, flag_sersic 0 above morphology.max_flag 1"
    result = cluster_means(join(table, CLUSTERS, Path("m.csv"), Path("c.csv")))["clusters"]
    assert result["1"]["A"] == 1.0 and result["1"]["n_failed"] == 2


def test_different_galaxies_in_the_two_files_are_an_input_error():
    with pytest.raises(InputError, match=r"m.csv and c.csv hold different galaxies \(1 clustered but not measured"):
        join(measures().iloc[1:], CLUSTERS, Path("m.csv"), Path("c.csv"))


def test_a_compared_cluster_beyond_the_count_names_the_key():
    check_compare((1, 3), 3, "sim_x")
    with pytest.raises(ConfigError, match=r"^survey.sim_x.morphology.compare_clusters: cluster 4 does not exist; "
                                          r"the clustering of sim_x has 3 clusters$"):
        check_compare((1, 4), 3, "sim_x")


def test_the_stage_writes_nan_free_rounded_metrics_and_the_histograms(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    survey = "sim_decals"
    params = load_params(Path(__file__).resolve().parents[1] / "params.yaml")
    for path, table in ((paths.morphology_file(survey), measures().assign(A=lambda d: d["A"] / 3)),
                        (paths.cluster_file(survey), CLUSTERS)):
        path.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(path, index=False)
    morphology_clusters.run(survey, params.survey[survey], params)
    text = paths.morphology_metrics(survey).read_text()
    assert "NaN" not in text
    metrics = json.loads(text)
    assert metrics["clusters"]["1"]["A"] == round(2 / 3, 4) and metrics["clusters"]["3"]["A"] is None
    png = paths.morphology_plots_dir(survey) / "histograms.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_stage_refuses_a_compared_cluster_that_does_not_exist(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    survey = "sim_decals"
    params = load_params(Path(__file__).resolve().parents[1] / "params.yaml")
    for path, table in ((paths.morphology_file(survey), measures()),
                        (paths.cluster_file(survey), CLUSTERS.assign(cluster=1))):
        path.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(path, index=False)
    with pytest.raises(ConfigError, match=r"compare_clusters: cluster 2 does not exist; .* has 1 clusters"):
        morphology_clusters.run(survey, params.survey[survey], params)
