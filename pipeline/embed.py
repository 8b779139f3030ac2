"""Representations of prepared images with a (trained or untrained) encoder.

The evaluation view is the centred window (paper Fig. 2); every split is embedded, keyed by
galaxy id, both the fused backbone features (512-d at paper size) and the unit projection.
Images are read from the memory-mapped prepared array a chunk at a time (:mod:`pipeline.chunks`),
so host memory is bounded by ``io.chunk_images``, not by the survey.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from pipeline import augment
from pipeline.chunks import chunk_length, read_chunks
from pipeline.model import FusionEncoder


@torch.no_grad()
def embed_chunks(model: FusionEncoder, images: np.ndarray, out_size: int, mean: tuple[float, ...],
                 std: tuple[float, ...], batch_size: int, device: torch.device, *,
                 rows: np.ndarray | None = None, chunk_images: int = 8192) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Backbone (n, F) and projection (n, P) float32 of ``images[rows]`` (default: every row),
    one chunk of rows at a time, in eval mode.

    The centred ``out_size`` window is resampled to the model's input size when they differ,
    so a model trained on one survey can embed another survey's images (paper Sect. 4.4).
    """
    rows = np.arange(len(images)) if rows is None else np.asarray(rows)
    was_training = model.training
    model.eval()
    try:
        for chunk in read_chunks(images, rows, chunk_length(chunk_images, batch_size), pin=device.type == "cuda"):
            chunk = chunk.to(device, non_blocking=True)
            backbone, projection = [], []
            for start in range(0, len(chunk), batch_size):
                x = augment.centre(augment.to_float(chunk[start:start + batch_size]), out_size, mean, std)
                if out_size != model.image_size:
                    x = F.interpolate(x, size=model.image_size, mode="bilinear", antialias=True, align_corners=False)
                h = model.backbone(x)
                backbone.append(h.float())
                projection.append(model.project(h).float())
            yield torch.cat(backbone).cpu().numpy(), torch.cat(projection).cpu().numpy()
    finally:
        model.train(was_training)


def embed_images(model: FusionEncoder, images: np.ndarray, out_size: int, mean: tuple[float, ...],
                 std: tuple[float, ...], batch_size: int, device: torch.device, *,
                 rows: np.ndarray | None = None, chunk_images: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """:func:`embed_chunks` gathered into two arrays (for sets whose vectors fit in memory)."""
    parts = list(embed_chunks(model, images, out_size, mean, std, batch_size, device, rows=rows,
                              chunk_images=chunk_images))
    if not parts:
        raise ValueError("no images to embed")
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
