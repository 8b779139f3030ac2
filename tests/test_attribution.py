"""Where the encoder looks (issue 10, item 3): Grad-CAM per CNN block, the ViT's relevance map,
and the stage that draws them (paper Fig. 16)."""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.image import imread

from pipeline import paths, prepare
from pipeline.attribution import (CosineToClassMean, choose_galaxies, cnn_blocks, grad_cam, kept_attention,
                                  train_class_means, vit_relevance)
from pipeline.embed import embed_images
from pipeline.embeddings import load_embeddings, save_embeddings
from pipeline.errors import InputError
from pipeline.model import build_encoder
from pipeline.model.cnn import CNNBranch
from pipeline.model.vit import ViTBranch
from pipeline.model_file import ModelInfo, save_model
from pipeline.params import load_params, survey_params
from stages import attribution as stage

ROOT = Path(__file__).resolve().parents[1]
PARAMS = load_params(ROOT / "params.yaml")
TINY = dataclasses.replace(PARAMS.models["demo"], stem_channels=8, stem_kernel=3, stem_padding=1,
                           cnn_channels=[8, 16], vit_patch=8, vit_dim=16, vit_depth=2, vit_heads=2,
                           vit_mlp_dim=32, branch_dim=8, projector_hidden=16, projection_dim=8)


@pytest.fixture(autouse=True)
def one_thread():
    """As the stage runs: tiny passes are slow on two threads of a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _quadrant_means(cam: np.ndarray) -> dict[str, float]:
    h, w = cam.shape[0] // 2, cam.shape[1] // 2
    return {"top-left": cam[:h, :w].mean(), "top-right": cam[:h, w:].mean(),
            "bottom-left": cam[h:, :w].mean(), "bottom-right": cam[h:, w:].mean()}


@pytest.mark.parametrize("seed", [0, 1])
def test_grad_cam_lights_up_the_only_quadrant_that_can_change_the_output(seed):
    """A CNN branch that sees only the top-right quadrant (the rest of the image is zeroed before
    it): each block's Grad-CAM lies there.  Top-right rather than top-left, so that a transposed or
    flipped map lands elsewhere.  Non-negative conv weights and the summed output as the target
    make every channel's Grad-CAM weight positive, so each map is all positive evidence."""
    torch.manual_seed(seed)
    cnn = CNNBranch(stem_channels=8, stem_kernel=3, stem_padding=1, channels=[8, 16]).eval()
    with torch.no_grad():
        for module in cnn.modules():
            if isinstance(module, torch.nn.Conv2d):
                module.weight.abs_()
    mask = torch.zeros(1, 1, 64, 64)
    mask[..., :32, 32:] = 1
    cnn.register_forward_pre_hook(lambda _module, args: (args[0] * mask,))
    x = torch.rand(2, 3, 64, 64)
    blocks = cnn_blocks(cnn)
    sides = []
    hooks = [block.register_forward_hook(lambda _m, _args, out: sides.append(out.shape[-1])) for block in blocks]
    cnn(x)
    for hook in hooks:
        hook.remove()
    assert sides == [64, 32, 16]                                # the stem's end, then each stage
    for i, block in enumerate(blocks, 1):
        cams = grad_cam(cnn, block, x, [lambda out: out.sum()] * 2)
        assert cams.shape == (2, 64, 64)
        for cam in cams:
            quadrants = _quadrant_means(cam)
            lit = quadrants.pop("top-right")
            assert lit > 0.3 and all(lit > 5 * other for other in quadrants.values()), (f"Conv{i}", lit, quadrants)


def _numpy_vit(p: dict[str, np.ndarray], image: np.ndarray, heads: int, patch: int,
               attention: dict[int, np.ndarray] | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
    """The ViT branch of paper Table 2 written out in NumPy (float64): its output and each block's
    attention probabilities (heads, T, T); ``attention[l]`` replaces block l's probabilities."""
    def norm(x, g, b):
        return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * g + b

    c, side, _ = image.shape
    g = side // patch
    # token (row, col) of the patch grid in row-major order; features (p1, p2, channel)
    patches = image.reshape(c, g, patch, g, patch).transpose(1, 3, 2, 4, 0).reshape(g * g, -1)
    x = np.concatenate([p["cls"][0], patches @ p["to_tokens.1.weight"].T + p["to_tokens.1.bias"]]) + p["pos"][0]
    t, dim = x.shape
    d = dim // heads
    probs = []
    for block in range(len([k for k in p if k.endswith(".attn.qkv.weight")])):
        w = lambda name: p[f"blocks.{block}.{name}"]  # noqa: E731
        qkv = norm(x, w("norm1.weight"), w("norm1.bias")) @ w("attn.qkv.weight").T   # (T, 3 * heads * d)
        q, k, v = (qkv.reshape(t, 3, heads, d)[:, i].transpose(1, 0, 2) for i in range(3))  # (heads, T, d)
        logits = q @ k.transpose(0, 2, 1) / math.sqrt(d)
        a = np.exp(logits - logits.max(-1, keepdims=True))
        a = a / a.sum(-1, keepdims=True)
        if attention is not None and block in attention:
            a = attention[block]
        probs.append(a)
        y = (a @ v).transpose(1, 0, 2).reshape(t, dim)                               # heads side by side
        x = x + y @ w("attn.out.weight").T + w("attn.out.bias")
        h = norm(x, w("norm2.weight"), w("norm2.bias")) @ w("mlp.0.weight").T + w("mlp.0.bias")
        h = 0.5 * h * (1 + np.vectorize(math.erf)(h / math.sqrt(2)))                  # exact GELU
        x = x + h @ w("mlp.2.weight").T + w("mlp.2.bias")
    out = norm(x[0], p["head.0.weight"], p["head.0.bias"]) @ p["head.1.weight"].T + p["head.1.bias"]
    return out, probs


def test_vit_relevance_matches_a_hand_computation():
    """Chefer et al.'s rule, R = I; R <- R + mean_heads((dS/dA * A)^+) R; class-token row, checked on
    a 2-block, 4-patch ViT with fixed random weights against NumPy: the forward written out, the
    gradients by central differences of the target with respect to each attention probability."""
    heads, patch = 2, 4
    torch.manual_seed(2)   # a draw where both blocks carry positive evidence (asserted below)
    vit = ViTBranch(image_size=8, patch=patch, dim=8, depth=2, heads=heads, mlp_dim=16, out_dim=4).double().eval()
    with torch.no_grad():
        for param in vit.parameters():
            param.copy_(torch.randn_like(param) * 0.5)   # LayerNorm gains and the class token too
    images = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    directions = torch.randn(2, 4, dtype=torch.float64)
    ours = vit_relevance(vit, vit, images, [CosineToClassMean(m) for m in directions])
    assert ours.shape == (2, 2, 2)

    p = {name: value.detach().numpy() for name, value in vit.state_dict().items()}

    def score(image, direction, attention=None):
        out, probs = _numpy_vit(p, image, heads, patch, attention)
        return out @ direction / (np.linalg.norm(out) * np.linalg.norm(direction)), probs

    for image, direction, got in zip(images.numpy(), directions.numpy(), ours):
        _, probs = score(image, direction)
        relevance = np.eye(probs[0].shape[-1])
        for block, a in enumerate(probs):
            grad = np.zeros_like(a)
            for idx in np.ndindex(a.shape):
                step = np.zeros_like(a)
                step[idx] = 1e-6
                up = score(image, direction, {block: a + step})[0]
                down = score(image, direction, {block: a - step})[0]
                grad[idx] = (up - down) / 2e-6
            cam = np.maximum(grad * a, 0).mean(0)
            assert cam[0].max() > 1e-4                         # so the order and products of blocks matter
            relevance = relevance + cam @ relevance
        expected = relevance[0, 1:].reshape(2, 2)
        assert np.abs(expected).max() > 1e-3                   # not a trivially empty map
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)


def test_kept_attention_gives_the_same_output_as_the_fused_kernel():
    torch.manual_seed(1)
    vit = ViTBranch(image_size=16, patch=8, dim=16, depth=2, heads=2, mlp_dim=32, out_dim=8).eval()
    x = torch.randn(3, 3, 16, 16)
    with torch.no_grad():
        default = vit(x)
        with kept_attention(vit) as layers:
            kept = vit(x)
            probs = [layer.probs for layer in layers]
    torch.testing.assert_close(kept, default, rtol=0, atol=1e-6)
    assert all(a.shape == (3, 2, 5, 5) for a in probs)
    torch.testing.assert_close(probs[0].sum(-1), torch.ones(3, 2, 5))
    assert all(not b.attn.keep_probs and b.attn.probs is None for b in vit.blocks)   # off again after


def _index(test_per_class: list[int], train_per_class: int = 3) -> pd.DataFrame:
    rows = [(c, split) for c, n_test in enumerate(test_per_class)
            for split in ["train"] * train_per_class + ["val"] + ["test"] * n_test]
    return pd.DataFrame({"id": [f"g{i:03d}" for i in range(len(rows))], "label_id": [c for c, _ in rows],
                         "split": [s for _, s in rows]})


def test_choice_is_seeded_per_class_and_bad_inputs_are_named():
    index = _index([3, 1, 0, 5])
    rows = choose_galaxies(index, ["a", "b", "c", "d"], 2, seed=7, survey="s")
    assert (index.iloc[rows]["split"] == "test").all()
    assert list(index.iloc[rows]["label_id"]) == [0, 0, 1, 3, 3]
    assert list(choose_galaxies(index, ["a", "b", "c", "d"], 2, seed=7, survey="s")) == list(rows)
    picks = {tuple(choose_galaxies(index, ["a", "b", "c", "d"], 2, seed=s, survey="s")) for s in range(10)}
    assert len(picks) > 1                                       # the seed chooses
    with pytest.raises(InputError, match="survey s: the test split has no galaxies"):
        choose_galaxies(_index([0, 0]), ["a", "b"], 2, seed=0, survey="s")
    embeddings = {"split": np.array(["train", "test"]), "label_id": np.array([0, 1]),
                  "projection": np.ones((2, 3), dtype=np.float32)}
    with pytest.raises(InputError, match="survey s: class 'b' has no train galaxies"):
        train_class_means(embeddings, "projection", ["a", "b"], "s")


def _workspace(branches: str) -> tuple[pd.DataFrame, list[str]]:
    """The inputs of attribution@sim_decals in the current folder: a prepared survey (stored 20 px,
    input 16 px), a tiny random encoder saved as the train stage saves it, its embeddings."""
    classes = list(survey_params(PARAMS, "sim_decals").classes)
    index = _index([3, 1, 0, 2])                                # a class without test galaxies
    index["label"] = [classes[i] for i in index["label_id"]]
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (len(index), 20, 20, 3), dtype=np.uint8)
    prepared = prepare.Prepared(images, index, (0.4, 0.4, 0.4), (0.2, 0.2, 0.2))
    prepare.save(prepared, paths.prepared_dir("sim_decals"))
    cfg = dataclasses.replace(TINY, branches=branches)
    encoder = build_encoder(cfg, 16, seed=0).eval()
    info = ModelInfo(survey="sim_decals", model_name="tiny", model=dataclasses.asdict(cfg),
                     geometry={"native_size": 20, "centre_crop": 20, "crop": 20, "input_size": 16},
                     mean=prepared.mean, std=prepared.std, classes=tuple(classes), seed=0, data_digest="",
                     project_version="test", train={}, colour=None)
    save_model(paths.model_file("sim_decals"), encoder, info)
    backbone, projection = embed_images(encoder, images, 16, prepared.mean, prepared.std, 64, torch.device("cpu"))
    save_embeddings(paths.embeddings_dir("sim_decals"), index, backbone, projection)
    return index, classes


@pytest.mark.parametrize("branches, columns", [("fusion", 5), ("cnn", 4), ("vit", 2)])
def test_stage_writes_the_overlays_and_the_galaxies_it_shows(tmp_path, monkeypatch, branches, columns):
    monkeypatch.chdir(tmp_path)
    index, classes = _workspace(branches)
    params = dataclasses.replace(PARAMS, attribution=dataclasses.replace(PARAMS.attribution, galaxies_per_class=2))
    survey = survey_params(params, "sim_decals")
    stage.run("sim_decals", survey, params)
    figure = paths.attribution_dir("sim_decals") / stage.FIGURE
    png = imread(figure)
    shown = json.loads(paths.attribution_galaxies("sim_decals").read_text())["galaxies"]
    # 2 + 1 + 0 + 2 rows; input, Conv1-3 and the ViT columns (1.5 inches at 100 dpi each)
    assert png.shape[:2] == (round(100 * (1.5 * 5 + 0.3)), 150 * columns)
    assert [g["class"] for g in shown] == [classes[0]] * 2 + [classes[1]] + [classes[3]] * 2
    by_id = index.set_index("id")
    assert all(by_id.loc[g["id"], "split"] == "test" and classes[by_id.loc[g["id"], "label_id"]] == g["class"]
               for g in shown)
    # the target's value: cosine of the galaxy's projection to its class's mean over train only
    emb = load_embeddings(paths.embeddings_dir("sim_decals"))
    for g in shown:
        row = list(emb["id"]).index(g["id"])
        mean = emb["projection"][(emb["split"] == "train") & (emb["label_id"] == emb["label_id"][row])].mean(0)
        z = emb["projection"][row]
        assert g["similarity"] == pytest.approx(z @ mean / np.linalg.norm(z) / np.linalg.norm(mean), abs=2e-4)
    before = figure.read_bytes()
    stage.run("sim_decals", survey, params)
    assert figure.read_bytes() == before                        # same figure every run (DVC sees no change)
