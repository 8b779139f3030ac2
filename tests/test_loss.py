import math

import pytest
import torch

from pipeline.loss import nt_xent


def reference_loss(z1: torch.Tensor, z2: torch.Tensor, tau: float) -> float:
    """Paper Eq. (1)-(3) written out literally: slow, loops over every view."""
    views = [v for v in torch.cat([z1, z2]).double()]
    n = len(z1)

    def sim(a, b):
        return float(a @ b / (a.norm() * b.norm()))

    total = 0.0
    for i, fi in enumerate(views):
        pos = (i + n) % (2 * n)
        numerator = math.exp(sim(fi, views[pos]) / tau)
        denominator = sum(math.exp(sim(fi, views[j]) / tau) for j in range(2 * n) if j != i)
        total += -math.log(numerator / denominator)
    return total / (2 * n)


@pytest.mark.parametrize("n,d,tau", [(2, 3, 0.1), (5, 8, 0.5), (16, 4, 1.0)])
def test_matches_reference_formula(n, d, tau):
    g = torch.Generator().manual_seed(n * d)
    z1, z2 = torch.randn(n, d, generator=g), torch.randn(n, d, generator=g)
    assert nt_xent(z1, z2, temperature=tau).item() == pytest.approx(reference_loss(z1, z2, tau), rel=1e-5)


def test_identical_views_far_from_negatives_give_low_loss():
    z = torch.eye(4)
    assert nt_xent(z, z, temperature=0.1).item() < 1e-3
    shuffled = z[[1, 2, 3, 0]]
    assert nt_xent(z, shuffled, temperature=0.1).item() > 5


def test_rejects_bad_temperature_and_shapes():
    z = torch.randn(3, 4)
    with pytest.raises(ValueError, match="temperature"):
        nt_xent(z, z, temperature=0)
    with pytest.raises(ValueError, match="shape"):
        nt_xent(z, torch.randn(2, 4), temperature=0.1)
