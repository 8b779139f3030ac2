"""Representations of prepared images with a (trained or untrained) encoder.

The evaluation view is the centred window (paper Fig. 2); every split is embedded, keyed by
galaxy id, both the fused backbone features (512-d at paper size) and the unit projection.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from pipeline import augment
from pipeline.model import FusionEncoder


@torch.no_grad()
def embed_images(model: FusionEncoder, images: np.ndarray, out_size: int, mean: tuple[float, ...],
                 std: tuple[float, ...], batch_size: int, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """(N, S, S, 3) uint8 -> backbone (N, F) and projection (N, P) float32, in eval mode.

    The centred ``out_size`` window is resampled to the model's input size when they differ,
    so a model trained on one survey can embed another survey's images (paper Sect. 4.4).
    """
    was_training = model.training
    model.eval()
    backbone, projection = [], []
    for start in range(0, len(images), batch_size):
        x = augment.to_float(torch.from_numpy(np.array(images[start:start + batch_size])).to(device))
        x = augment.centre(x, out_size, mean, std)
        if out_size != model.image_size:
            x = F.interpolate(x, size=model.image_size, mode="bilinear", antialias=True, align_corners=False)
        h = model.backbone(x)
        backbone.append(h.float().cpu())
        projection.append(model.project(h).float().cpu())
    model.train(was_training)
    return torch.cat(backbone).numpy(), torch.cat(projection).numpy()
