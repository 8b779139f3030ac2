"""Fusion encoder (paper Fig. 5): concat(CNN, ViT) -> projector -> L2-normalised embedding.

With ``branches: cnn`` or ``vit`` the same class is the single-branch encoder of the paper's
ablation (Fig. 6): the absent branch is not built and the projector takes the one present.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pipeline.model.cnn import CNNBranch
from pipeline.model.vit import ViTBranch
from pipeline.params import Model


class FusionEncoder(nn.Module):
    """``backbone`` gives the fused representation (512-d at paper size); ``forward`` the unit
    projection (128-d) the contrastive loss compares (paper Eq. 1).  ``cnn`` / ``vit`` are None
    when ``cfg.branches`` leaves them out."""

    def __init__(self, cfg: Model, image_size: int):
        super().__init__()
        # Built in this order whatever the branches, so a fusion encoder's initial weights are
        # those of every earlier release for the same seed.
        self.cnn = (CNNBranch(cfg.stem_channels, cfg.stem_kernel, cfg.stem_padding, list(cfg.cnn_channels))
                    if cfg.branches in ("fusion", "cnn") else None)
        self.vit = (ViTBranch(image_size, cfg.vit_patch, cfg.vit_dim, cfg.vit_depth, cfg.vit_heads,
                              cfg.vit_mlp_dim, cfg.branch_dim)
                    if cfg.branches in ("fusion", "vit") else None)
        self.branch_modules = [b for b in (self.cnn, self.vit) if b is not None]
        fused = sum(b.out_dim for b in self.branch_modules)
        self.projector = nn.Sequential(
            nn.Linear(fused, cfg.projector_hidden),
            nn.BatchNorm1d(cfg.projector_hidden),
            nn.ReLU(inplace=True),
            nn.Linear(cfg.projector_hidden, cfg.projection_dim),
        )
        self.backbone_dim = fused
        self.image_size = image_size

    def backbone(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, H, W) -> (B, fused)
        return torch.cat([branch(x) for branch in self.branch_modules], 1)

    def project(self, h: torch.Tensor) -> torch.Tensor:   # (B, fused) -> (B, P), unit norm
        return F.normalize(self.projector(h), dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(self.backbone(x))


def build_encoder(cfg: Model, image_size: int, seed: int) -> FusionEncoder:
    """A freshly initialised encoder; the same seed gives the same weights."""
    torch.manual_seed(seed)
    return FusionEncoder(cfg, image_size)
