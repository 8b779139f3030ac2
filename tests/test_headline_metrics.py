"""The headline metrics: the evaluate stage's few numbers that `dvc metrics show` prints (issue 12)."""
from __future__ import annotations

import json

from pipeline import paths
from pipeline.evaluate import headline
from tests.repo_copy import RepoCopy

#: DVC's table is at most this wide (issue 12: readable in a terminal, headline numbers only).
MAX_WIDTH = 200


def dotted(tree: dict, prefix: str = "") -> dict:
    """Nested mappings as DVC's dotted column names."""
    flat: dict = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(dotted(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def detail(ks: list[int], offset: float = 0.0) -> dict:
    """An evaluate metrics file's shape, every score distinct and printed with all of DVC's digits."""
    def curve(base: float) -> dict:
        return {f"k{k}": base + offset + i / 7 for i, k in enumerate(ks)}
    protocols = {"knn": curve(90), "knn_loo": curve(80), "knn_val": curve(70),
                 "nmi": 0.6123456 + offset / 100, "ari": 0.7123456 + offset / 100,
                 "nmi_loo": 0.1, "ari_loo": 0.2}
    return {**protocols, "n_train": 1273, "n_val": 160, "n_test": 158, "recall": {"spiral": 97.5},
            "baseline": {"random_init": curve(60), "pixels": curve(50)},
            "baseline_loo": {"random_init": curve(40), "pixels": curve(30)},
            "baseline_val": {"random_init": curve(20), "pixels": curve(10)},
            "representations": {"backbone": protocols, "projection": protocols}}


def test_the_headline_is_the_detail_files_numbers_under_the_same_keys():
    ks, k = [1, 5, 10, 15, 20], 15
    full = dotted(detail(ks))
    head = dotted(headline(detail(ks), k))
    assert set(head) == {*(f"knn.k{kk}" for kk in ks), "nmi", "ari",
                         "baseline.random_init.k15", "baseline.pixels.k15"}
    assert head == {key: full[key] for key in head}


def test_metrics_show_on_the_default_surveys_lists_only_the_headlines_within_200_columns(tmp_path):
    """The project's dvc.yaml and params.yaml, each survey's headline written from a detail file;
    the opt-in analyses on for every survey, so that their stages' declarations count too."""
    repo = RepoCopy(tmp_path / "repo")
    params = repo.params()
    for block in ("ablation", "label_efficiency"):
        params[block]["surveys"] = params["surveys"]
    repo.write_params(params)
    ev = params["evaluate"]
    for i, name in enumerate(params["surveys"]):
        out = repo.path / paths.headline_metrics(name)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(headline(detail(ev["ks"], offset=i), ev["k"])))
    listed = json.loads(repo.dvc("metrics", "show", "--json").stdout)[""]["data"]
    assert set(listed) == {str(paths.headline_metrics(name)) for name in params["surveys"]}
    assert all("data" in content for content in listed.values()), listed
    lines = repo.dvc("metrics", "show").stdout.splitlines()
    print("\n".join(lines))
    assert len(lines) == 1 + len(params["surveys"])
    assert max(map(len, lines)) <= MAX_WIDTH, max(map(len, lines))
