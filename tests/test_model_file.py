"""The self-describing model file: round trip, and refusals of foreign, tampered and other-version files."""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from pipeline import model_file
from pipeline.model import build_encoder
from pipeline.model_file import ModelFileError, ModelInfo, load_model, read_info, save_model
from pipeline.params import load_params

ROOT = Path(__file__).resolve().parents[1]
CFG = dataclasses.replace(load_params(ROOT / "params.yaml").models["demo"], stem_channels=8, cnn_channels=[8, 16],
                          vit_patch=8, vit_dim=16, vit_depth=1, vit_heads=2, vit_mlp_dim=16, branch_dim=8,
                          projector_hidden=16, projection_dim=8)


def _info(**changes) -> ModelInfo:
    info = ModelInfo(survey="sim_sdss", model_name="tiny", model=dataclasses.asdict(CFG),
                     geometry={"native_size": 32, "centre_crop": 24, "crop": 20, "input_size": 16},
                     mean=(0.1, 0.2, 0.3), std=(0.2, 0.2, 0.25), classes=("elliptical", "edge_on", "spiral"),
                     seed=7, data_digest="abc123", project_version="9.9.9", train={"epochs": 3},
                     colour={"bands": ["i", "r", "g"], "asinh_q": 8.0})
    return dataclasses.replace(info, **changes)


@pytest.fixture
def saved(tmp_path) -> tuple[Path, torch.nn.Module]:
    model = build_encoder(CFG, 16, seed=3).eval()
    path = tmp_path / "model.pt"
    save_model(path, model, _info())
    return path, model


def test_round_trip_gives_the_same_encoder_and_metadata(saved):
    path, model = saved
    loaded, info = load_model(path)
    assert info == _info()
    assert info.image().stored_size == round(24 * 16 / 20)
    x = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    assert not loaded.training
    assert read_info(path) == info


def _rewrite(path: Path, edit) -> None:
    payload = torch.load(path, weights_only=True)
    edit(payload)
    torch.save(payload, path)


def test_a_changed_weight_is_refused(saved):
    path, _ = saved
    _rewrite(path, lambda p: p["state_dict"]["projector.0.weight"].view(-1).__setitem__(0, 0.5))
    with pytest.raises(ModelFileError, match="digest does not match"):
        load_model(path)


def test_changed_metadata_is_refused(saved):
    path, _ = saved
    def edit(p):
        info = json.loads(p["info"])
        info["classes"] = ["a", "b", "c"]
        p["info"] = json.dumps(info)
    _rewrite(path, edit)
    with pytest.raises(ModelFileError, match="digest does not match"):
        read_info(path)


def test_a_newer_format_asks_for_an_upgrade(saved):
    path, _ = saved
    _rewrite(path, lambda p: p.__setitem__("format_version", model_file.FORMAT_VERSION + 1))
    with pytest.raises(ModelFileError, match="upgrade the package"):
        load_model(path)


class _Payload:
    """Unpickling this would create a file: what an arbitrary-object pickle could do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("kind", ["pickle_object", "plain_dict", "old_format", "jpeg", "truncated", "missing"])
def test_foreign_files_are_refused_naming_the_file(saved, tmp_path, kind):
    path, model = saved
    marker = tmp_path / "pwned"
    bad = tmp_path / f"{kind}.pt"
    if kind == "pickle_object":
        torch.save({"format": model_file.FORMAT, "x": _Payload(marker)}, bad)
    elif kind == "plain_dict":
        torch.save({"weights": torch.zeros(3)}, bad)
    elif kind == "old_format":  # what `train` wrote before models were self-describing
        torch.save({"model": model.state_dict(), "model_name": "tiny", "model_cfg": dataclasses.asdict(CFG),
                    "image_size": 16}, bad)
    elif kind == "jpeg":
        bad.write_bytes(b"\xff\xd8\xff\xe0" + bytes(200))
    elif kind == "truncated":
        bad.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(ModelFileError) as err:
        load_model(bad)
    assert str(bad) in str(err.value)
    assert not marker.exists()  # weights_only=True: nothing was executed
    if kind == "old_format":
        assert "retrain" in str(err.value)


def test_weights_for_another_encoder_are_refused(saved, tmp_path):
    path, _ = saved
    other = tmp_path / "other.pt"
    wider = dataclasses.replace(CFG, projection_dim=4)
    save_model(other, build_encoder(wider, 16, seed=0), _info())  # metadata says projection_dim 8
    with pytest.raises(ModelFileError, match="do not fit"):
        load_model(other)


def test_loads_in_a_fresh_process_with_only_the_installed_package(saved, tmp_path):
    """No repository and no params.yaml: the package installed (not editable) into a folder of its own."""
    path, model = saved
    source, target = tmp_path / "source", tmp_path / "site"
    for part in ("pipeline", "stages"):  # built from a copy: setuptools writes build/ beside the sources
        shutil.copytree(ROOT / part, source / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", source)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(source)], check=True, capture_output=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    script = textwrap.dedent(f"""
        import pipeline, torch
        from pipeline.model_file import load_model
        model, info = load_model({str(path)!r})
        torch.manual_seed(0)
        print(pipeline.__file__)
        print(info.survey, info.classes, float(model(torch.rand(2, 3, 16, 16)).sum()))
    """)
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run([sys.executable, "-c", script], cwd=elsewhere, env=env, check=True,
                         capture_output=True, text=True).stdout.splitlines()
    assert out[0].startswith(str(target))  # not the repository's source tree
    assert not (elsewhere / "params.yaml").exists()
    torch.manual_seed(0)
    with torch.no_grad():
        expected = float(model(torch.rand(2, 3, 16, 16)).sum())
    survey, *_, total = out[1].split()
    assert survey == "sim_sdss" and abs(float(total) - expected) < 1e-5
