"""params.yaml validation: every error names the dotted key that is wrong."""
import copy

import pytest
import yaml

from pipeline.config import ConfigError, parse
from pipeline.params import Params, load_params, survey_params


@pytest.fixture(scope="module")
def raw() -> dict:
    with open("params.yaml") as f:
        return yaml.safe_load(f)


def _parse(raw: dict, edit) -> Params:
    data = copy.deepcopy(raw)
    edit(data)
    return parse(Params, data, "")


def test_repository_params_are_valid():
    params = load_params()
    assert params.surveys and all(name in params.survey for name in params.surveys)


@pytest.mark.parametrize("edit,key", [
    (lambda d: d["survey"]["sim_gz2"]["train"].update(temprature=0.1), r"survey\.sim_gz2\.train\.temprature: unknown key"),
    (lambda d: d["survey"]["sim_gz2"]["train"].pop("lr"), r"survey\.sim_gz2\.train\.lr: missing key"),
    (lambda d: d["survey"]["sim_gz2"]["train"].update(epochs="ten"), r"survey\.sim_gz2\.train\.epochs: expected an integer"),
    (lambda d: d["survey"]["sim_gz2"]["train"].update(temperature=-1), r"survey\.sim_gz2\.train\.temperature: -1.0 must be positive"),
    (lambda d: d["survey"]["sim_sdss"]["selection"]["rules"]["elliptical"][0].update(p_el=1.5),
     r"survey\.sim_sdss\.selection\.rules\.elliptical\.0\.p_el: 1.5 must lie in \[0, 1\]"),
    (lambda d: d["survey"]["sim_sdss"]["selection"]["rules"]["elliptical"][0].update(p_el="high"),
     r"survey\.sim_sdss\.selection\.rules\.elliptical\.0\.p_el: expected a number"),
    (lambda d: d["survey"]["sim_sdss"]["selection"]["filters"][0].update(op="=>"),
     r"survey\.sim_sdss\.selection\.filters\.0\.op: '=>' is not one of"),
    (lambda d: d["survey"]["sim_gz2"]["split"].update(train=0.9), r"survey\.sim_gz2\.split: train \+ val \+ test must be 1"),
    (lambda d: d["survey"]["sim_gz2"]["image"].update(crop=300), r"survey\.sim_gz2\.image: need 0 < crop"),
    (lambda d: d["survey"]["sim_gz2"]["selection"]["rules"].pop("spiral"), r"survey\.sim_gz2\.selection\.rules: has no rule for class 'spiral'"),
    (lambda d: d["survey"]["sim_gz2"]["train"].update(model="huge"), r"survey\.sim_gz2\.train\.model: 'huge' is not one of models"),
    (lambda d: d["augment"]["demo"].update(flip_p=2), r"augment\.demo\.flip_p: 2.0 must lie in \[0, 1\]"),
    (lambda d: d["survey"]["sim_gz2"]["train"].update(augment="strong"),
     r"survey\.sim_gz2\.train\.augment: 'strong' is not one of augment \['demo', 'paper'\]"),
    (lambda d: d["evaluate"].update(k=7), r"evaluate\.k: 7 must be one of ks"),
    (lambda d: d["evaluate"].update(representation="both"), r"evaluate\.representation: 'both' is not one of"),
    (lambda d: d.update(surveys=["sim_gz2", "nope"]), r"surveys: 'nope' has no block under survey:"),
    (lambda d: d.update(sed=1), r"sed: unknown key"),
    (lambda d: d["models"]["demo"].update(branches="resnet"), r"models\.demo\.branches: 'resnet' is not one of \['fusion', 'cnn', 'vit'\]"),
    (lambda d: d["ablation"].update(branches=["cnn", "transformer"]), r"ablation\.branches\.1: 'transformer' is not one of"),
    (lambda d: d["ablation"].update(branches=["cnn", "fusion"]), r"ablation\.branches: 'fusion' is the survey's own encoder"),
    (lambda d: d["ablation"].update(surveys=["sim_gz2", "decals"]), r"ablation\.surveys\.1: 'decals' is not one of the surveys dvc repro runs"),
    (lambda d: d["label_efficiency"].update(surveys=["gz2"]), r"label_efficiency\.surveys\.0: 'gz2' is not one of the surveys"),
    (lambda d: d["label_efficiency"].update(sizes=[64, 0]), r"label_efficiency\.sizes\.1: 0 must be positive"),
    (lambda d: d["survey"]["sim_gz2"]["cluster"].update(threshold=0), r"survey\.sim_gz2\.cluster\.threshold: 0.0 must be positive"),
    (lambda d: d["cluster"].update(linkage="ward", metric="cosine"), r"cluster\.metric: linkage 'ward' needs metric 'euclidean'"),
    (lambda d: d["knn"].update(index="flat"), r"knn\.index: 'flat' is not one of \['ivf', 'hnsw'\]"),
    (lambda d: d["knn"].update(approx_above=-1), r"knn\.approx_above: -1 must be >= 0"),
    (lambda d: d["knn"].update(recall_sample=0), r"knn\.recall_sample: 0 must be positive"),
    (lambda d: d["knn"].update(query_chunk=0), r"knn\.query_chunk: 0 must be positive"),
    (lambda d: d["knn"]["ivf"].update(nlist=-4), r"knn\.ivf\.nlist: -4 must be >= 0"),
    (lambda d: d["knn"]["ivf"].update(nprobe=0), r"knn\.ivf\.nprobe: 0 must be positive"),
    (lambda d: d["knn"]["ivf"].update(train_per_list=20), r"knn\.ivf\.train_per_list: 20 must be at least 39"),
    (lambda d: d["knn"]["hnsw"].update(ef_search=0), r"knn\.hnsw\.ef_search: 0 must be positive"),
])
def test_errors_name_the_key(raw, edit, key):
    with pytest.raises(ConfigError, match=key):
        _parse(raw, edit)


def test_unknown_survey_lists_the_known_ones():
    with pytest.raises(ConfigError, match=r"survey\.sim_gz3: no such survey \(defined: .*sim_gz2"):
        survey_params(load_params(), "sim_gz3")


def test_missing_params_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="params file not found"):
        load_params(tmp_path / "params.yaml")


def test_broken_yaml_is_named(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("seed: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(path)


def test_no_params_key_is_invisible_to_dvcs_run_cache(raw):
    """DVC's run-cache hash drops every key named ``size`` or ``nfiles`` at any depth (file
    metadata to it; treeverse/dvc issue 10296): a change of such a param reuses the previous
    outputs silently, as ``dvc exp run -S survey.x.image.size=48`` once did here."""
    def keys(node, path=""):
        if isinstance(node, dict):
            for key, value in node.items():
                yield f"{path}.{key}".lstrip("."), key
                yield from keys(value, f"{path}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                yield from keys(value, f"{path}.{i}")

    hidden = [dotted for dotted, key in keys(raw) if key in ("size", "nfiles")]
    assert hidden == []
