"""NT-Xent / InfoNCE contrastive loss (paper Sect. 3.4, Eq. 1-3)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, *, temperature: float) -> torch.Tensor:
    """Mean InfoNCE loss over the 2N views of a batch of N positive pairs.

    For view i with positive p(i), Eq. (2):
    L_i = -log exp(sim(i, p(i))/tau) / sum_{j != i} exp(sim(i, j)/tau),
    sim the cosine similarity of Eq. (1); the sum holds the positive and the 2N-2 negatives.
    Eq. (3) averages L_i over every view.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    if z1.shape != z2.shape or z1.ndim != 2:
        raise ValueError(f"expected two (N, D) tensors of one shape, got {tuple(z1.shape)}, {tuple(z2.shape)}")
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1).float()              # (2N, D)
    logits = z @ z.T / temperature                                     # (2N, 2N)
    logits.fill_diagonal_(float("-inf"))                               # j != i
    positive = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(logits, positive)
