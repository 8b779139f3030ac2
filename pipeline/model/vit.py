"""ViT branch (paper Sect. 3.3, Table 2): patches -> tokens + class token -> pre-norm transformer."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from einops.layers.torch import Rearrange
from torch import nn


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.out = nn.Linear(dim, dim)
        # Opt-in for attribution (pipeline/attribution.py): the attention probabilities are then
        # computed explicitly and kept, in the autograd graph, in `probs` (B, heads, T, T).  Off,
        # the fused kernel runs and nothing is kept, so training is unchanged.
        self.keep_probs = False
        self.probs: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, D)
        q, k, v = rearrange(self.qkv(x), "b t (three h d) -> three b h t d", three=3, h=self.heads)
        if self.keep_probs:
            self.probs = (q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5).softmax(-1)
            y = self.probs @ v
        else:
            # Fused attention kernel: flash/memory-efficient on GPU, plain math on CPU.
            y = F.scaled_dot_product_attention(q, k, v)
        return self.out(rearrange(y, "b h t d -> b t (h d)"))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_dim: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Linear(mlp_dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViTBranch(nn.Module):
    """(B, 3, H, W) -> class token -> LayerNorm + Linear -> (B, out_dim)."""

    def __init__(self, image_size: int, patch: int, dim: int, depth: int, heads: int, mlp_dim: int,
                 out_dim: int):
        super().__init__()
        if image_size % patch:
            raise ValueError(f"image size {image_size} is not a multiple of the ViT patch {patch}")
        n_patches = (image_size // patch) ** 2
        self.to_tokens = nn.Sequential(
            Rearrange("b c (h p1) (w p2) -> b (h w) (p1 p2 c)", p1=patch, p2=patch),
            nn.Linear(3 * patch * patch, dim),
        )
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, n_patches + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[Block(dim, heads, mlp_dim) for _ in range(depth)])
        self.head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, out_dim))
        self.out_dim = out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.to_tokens(x)                                     # (B, T, D)
        cls = self.cls.expand(tokens.shape[0], -1, -1)
        tokens = self.blocks(torch.cat([cls, tokens], 1) + self.pos)   # (B, T+1, D)
        return self.head(tokens[:, 0])
