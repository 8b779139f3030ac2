"""Fusion encoder (paper Fig. 5): concat(CNN, ViT) -> projector -> L2-normalised embedding."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pipeline.model.cnn import CNNBranch
from pipeline.model.vit import ViTBranch
from pipeline.config import parse
from pipeline.params import Model


class FusionEncoder(nn.Module):
    """``backbone`` gives the fused representation (512-d at paper size); ``forward`` the unit
    projection (128-d) the contrastive loss compares (paper Eq. 1)."""

    def __init__(self, cfg: Model, image_size: int):
        super().__init__()
        self.cnn = CNNBranch(cfg.stem_channels, cfg.stem_kernel, cfg.stem_padding, list(cfg.cnn_channels))
        self.vit = ViTBranch(image_size, cfg.vit_patch, cfg.vit_dim, cfg.vit_depth, cfg.vit_heads,
                             cfg.vit_mlp_dim, cfg.branch_dim)
        fused = self.cnn.out_dim + self.vit.out_dim
        self.projector = nn.Sequential(
            nn.Linear(fused, cfg.projector_hidden),
            nn.BatchNorm1d(cfg.projector_hidden),
            nn.ReLU(inplace=True),
            nn.Linear(cfg.projector_hidden, cfg.projection_dim),
        )
        self.backbone_dim = fused
        self.image_size = image_size

    def backbone(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, H, W) -> (B, fused)
        return torch.cat([self.cnn(x), self.vit(x)], 1)

    def project(self, h: torch.Tensor) -> torch.Tensor:   # (B, fused) -> (B, P), unit norm
        return F.normalize(self.projector(h), dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(self.backbone(x))


def build_encoder(cfg: Model, image_size: int, seed: int) -> FusionEncoder:
    """A freshly initialised encoder; the same seed gives the same weights."""
    torch.manual_seed(seed)
    return FusionEncoder(cfg, image_size)


def load_encoder(path: str, device: torch.device) -> FusionEncoder:
    """A trained encoder saved by the train stage (weights, widths and input size), in eval mode
    on ``device``."""
    saved = torch.load(path, map_location="cpu", weights_only=False)
    cfg = parse(Model, saved["model_cfg"], f"{path}: models.{saved['model_name']}")
    model = FusionEncoder(cfg, saved["image_size"])
    model.load_state_dict(saved["model"])
    return model.to(device).eval()
