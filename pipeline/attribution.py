"""Where the encoder looks (paper Sect. 4.5.3, Fig. 16): Grad-CAM on the CNN blocks, relevance
of the ViT's class token over its patches.

The target.  The encoder has no classifier head, so there is no class logit to explain.  Each
map explains instead the cosine similarity of the galaxy's embedding (the representation the
evaluation uses, ``evaluate.representation``: the unit projection by default) to the mean
embedding of its labelled class over the train split (read from ``data/embed/<survey>/``):
"what in this image makes the encoder place it near its class".  It is a scalar per galaxy,
differentiable, and the kNN evaluation reads the same geometry (cosine on that representation).

CNN: Grad-CAM (Selvaraju et al. 2017, the paper's choice) from ``pytorch_grad_cam`` on the
output of each of the three convolutional blocks (the stem conv-BN-ReLU and the two ResNet
stages: the paper's Conv1-3).

ViT: Chefer, Gur & Wolf's gradient-weighted relevance, the rule of their generic method (ICCV
2021) for self-attention: R = I, then per block R <- R + mean_heads((dA/dt * A)^+) R, read at
the class token's row over the patch tokens.  The paper used their CVPR 2021 method, which
weights the gradient with each attention map's LRP relevance instead of the map itself; that
needs LRP rules through every LayerNorm, GELU and skip of the ViT, and the ICCV paper (same
authors) shows the attention-times-gradient rule explains ViTs as well.  Plain attention rollout
(Abnar & Zuidema 2020) was not used: it ignores the target, so the ViT column would show where
the class token attends in general while the Grad-CAM columns answer "what makes it like its
class"; with gradients both answer the same question, and negative evidence (the ``^+``) drops out.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Literal, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.image import scale_cam_image, show_cam_on_image
from torch import nn

from pipeline import augment
from pipeline.errors import InputError
from pipeline.model import FusionEncoder
from pipeline.model.cnn import CNNBranch
from pipeline.model.vit import Attention, ViTBranch
from pipeline.prepare import Prepared

Target = Callable[[torch.Tensor], torch.Tensor]
Representation = Literal["backbone", "projection"]


class CosineToClassMean:
    """Target for one galaxy: cosine similarity of its embedding (P,) to ``mean`` (P,)."""

    def __init__(self, mean: torch.Tensor):
        self.mean = mean

    def __call__(self, embedding: torch.Tensor) -> torch.Tensor:
        return F.cosine_similarity(embedding, self.mean.to(embedding), dim=-1)


class Embedding(nn.Module):
    """The encoder as a function image -> the representation the evaluation uses."""

    def __init__(self, encoder: FusionEncoder, representation: Representation):
        super().__init__()
        self.encoder = encoder
        self.representation = representation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder.backbone(x) if self.representation == "backbone" else self.encoder(x)


def train_class_means(embeddings: dict[str, np.ndarray], representation: Representation, classes: list[str],
                      survey: str) -> np.ndarray:
    """(C, P) mean embedding of each class over the train split."""
    train = embeddings["split"] == "train"
    means = []
    for i, cls in enumerate(classes):
        members = train & (embeddings["label_id"] == i)
        if not members.any():
            raise InputError(f"survey {survey}: class {cls!r} has no train galaxies, so no mean embedding "
                             f"to attribute to")
        means.append(embeddings[representation][members].mean(0))
    return np.stack(means)


def choose_galaxies(index: pd.DataFrame, classes: list[str], per_class: int, seed: int, survey: str) -> np.ndarray:
    """Row positions in ``index`` of ``per_class`` test galaxies of each class (all of a class
    that has fewer), seeded; in class order, then index order."""
    rng = np.random.default_rng(seed)
    test = (index["split"] == "test").to_numpy()
    picked = []
    for i in range(len(classes)):
        rows = np.flatnonzero(test & (index["label_id"] == i).to_numpy())
        picked.append(np.sort(rng.choice(rows, size=min(per_class, len(rows)), replace=False)))
    rows = np.concatenate(picked)
    if len(rows) == 0:
        raise InputError(f"survey {survey}: the test split has no galaxies to show")
    return rows


def cnn_blocks(cnn: CNNBranch) -> list[nn.Module]:
    """The modules whose outputs end the CNN's convolutional blocks: the stem's ReLU (its
    conv-BN-ReLU are three modules) and each ResNet stage (paper Fig. 16's Conv1-3)."""
    return [cnn.features[2], *cnn.features[3:]]


def grad_cam(model: nn.Module, layer: nn.Module, x: torch.Tensor, targets: Sequence[Target]) -> np.ndarray:
    """(B, H, W) Grad-CAM of ``layer`` for one target per image, in [0, 1] per image, at the
    input's size (pytorch-grad-cam's ReLU, min-max scaling and bilinear upsampling)."""
    with GradCAM(model=model, target_layers=[layer]) as cam:
        return cam(input_tensor=x, targets=list(targets))


@contextmanager
def kept_attention(vit: ViTBranch) -> Iterator[list[Attention]]:
    """Within the block, every forward of ``vit`` keeps its attention probabilities (with their
    autograd graph) in each block's ``attn.probs``."""
    layers = [block.attn for block in vit.blocks]
    for layer in layers:
        layer.keep_probs = True
    try:
        yield layers
    finally:
        for layer in layers:
            layer.keep_probs, layer.probs = False, None


def vit_relevance(model: nn.Module, vit: ViTBranch, x: torch.Tensor, targets: Sequence[Target]) -> np.ndarray:
    """(B, g, g) relevance of each patch to the targets (Chefer et al. 2021, see the module doc):
    R = I; R <- R + mean_heads((grad * A)^+) R over the blocks in order; the class token's row."""
    with kept_attention(vit) as layers:
        out = model(x)
        score = sum(target(o) for target, o in zip(targets, out))
        probs = [layer.probs for layer in layers]
        grads = torch.autograd.grad(score, probs)
    b, _, t, _ = probs[0].shape
    with torch.no_grad():
        relevance = torch.eye(t, dtype=x.dtype, device=x.device).expand(b, t, t)
        for a, g in zip(probs, grads):
            relevance = relevance + (g * a).clamp(min=0).mean(1) @ relevance
    side = math.isqrt(t - 1)
    return relevance[:, 0, 1:].reshape(b, side, side).cpu().numpy()


@dataclass(frozen=True)
class Maps:
    """The map columns of the figure, for one batch of galaxies."""

    titles: list[str]            # one per map column, e.g. "Conv1 (Grad-CAM)"
    maps: list[np.ndarray]       # per column (B, H, W) in [0, 1]
    similarity: np.ndarray       # (B,) the target's value


def attribution_maps(encoder: FusionEncoder, x: torch.Tensor, means: torch.Tensor,
                     representation: Representation) -> Maps:
    """Grad-CAM of each CNN block and the ViT relevance for the normalised batch ``x`` (B, 3, H, W),
    galaxy i explained by its cosine similarity to ``means[i]``; columns of a missing branch are
    left out."""
    model = Embedding(encoder, representation).eval()
    targets = [CosineToClassMean(m) for m in means]
    titles, maps = [], []
    if encoder.cnn is not None:
        for i, layer in enumerate(cnn_blocks(encoder.cnn), 1):
            titles.append(f"Conv{i} (Grad-CAM)")
            maps.append(grad_cam(model, layer, x, targets))
    if encoder.vit is not None:
        titles.append("ViT (relevance)")
        maps.append(scale_cam_image(vit_relevance(model, encoder.vit, x, targets), x.shape[-2:][::-1]))
    with torch.no_grad():
        similarity = torch.stack([t(o) for t, o in zip(targets, model(x))])
    return Maps(titles, maps, similarity.cpu().numpy())


def overlay_figure(images: np.ndarray, row_titles: list[str], maps: Maps) -> Figure:
    """Paper Fig. 16's layout: a row per galaxy (uint8 (B, H, W, 3) inputs), the input then each
    map overlaid on it (jet, half weight)."""
    n, cols = len(images), 1 + len(maps.titles)
    fig = Figure(figsize=(1.5 * cols, 1.5 * n + 0.3))
    axes = fig.subplots(n, cols, squeeze=False)
    for r in range(n):
        rgb = images[r].astype(np.float32) / 255.0
        panels = [images[r]] + [show_cam_on_image(rgb, m[r], use_rgb=True) for m in maps.maps]
        for c, panel in enumerate(panels):
            ax = axes[r, c]
            ax.imshow(panel, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(["input", *maps.titles][c], fontsize=8)
        axes[r, 0].set_ylabel(row_titles[r], fontsize=7)
    fig.tight_layout(pad=0.3)
    return fig


def attribute(encoder: FusionEncoder, prepared: Prepared, embeddings: dict[str, np.ndarray], classes: list[str],
              representation: Representation, per_class: int, seed: int, survey: str) -> tuple[Figure, list[dict]]:
    """The overlay figure for ``per_class`` seeded test galaxies of each class, on their centred
    evaluation view (as pipeline/embed.py), and per galaxy its id, class and target value."""
    rows = choose_galaxies(prepared.index, classes, per_class, seed, survey)
    means = torch.from_numpy(train_class_means(embeddings, representation, classes, survey))
    device = next(encoder.parameters()).device
    images = np.array(prepared.images[rows])                     # (B, S, S, 3) uint8
    size = encoder.image_size
    x = augment.centre(augment.to_float(torch.from_numpy(images).to(device)), size, prepared.mean, prepared.std)
    # NCHW: on the channels-last strides that to_float's permute leaves, PyTorch 2.14's
    # multi-threaded CPU backward through the CNN corrupts the heap for some widths (a segfault
    # with stem_channels 8 on 16 px inputs and two threads).
    x = x.contiguous()
    labels = prepared.index["label_id"].to_numpy()[rows]
    ids = prepared.index["id"].to_numpy()[rows]
    maps = attribution_maps(encoder, x, means[labels].to(device), representation)
    top = (images.shape[1] - size) // 2                          # the window augment.centre takes
    window = images[:, top:top + size, top:top + size]
    titles = [f"{classes[label]}\n{gid}" for label, gid in zip(labels, ids)]
    shown = [{"id": str(gid), "class": classes[label], "similarity": round(float(s), 4)}
             for gid, label, s in zip(ids, labels, maps.similarity)]
    return overlay_figure(window, titles, maps), shown
