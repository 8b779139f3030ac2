import pytest
import torch

from pipeline.model import build_encoder
from pipeline.params import load_params

PAPER_TOTAL = 4_187_328  # Table 2


def test_paper_configuration_size_and_output():
    params = load_params()
    size = params.survey["gz2"].image.input_size
    model = build_encoder(params.models[params.survey["gz2"].train.model], size, seed=0)
    n = sum(p.numel() for p in model.parameters())
    assert abs(n / PAPER_TOTAL - 1) < 0.03, n
    model.eval()
    z = model(torch.randn(3, 3, 84, 84))
    assert z.shape == (3, 128)
    assert torch.allclose(z.norm(dim=1), torch.ones(3), atol=1e-5)
    assert model.backbone(torch.randn(2, 3, 84, 84)).shape == (2, 512)


def test_same_seed_same_weights():
    cfg = load_params().models["demo"]
    a, b = build_encoder(cfg, 40, seed=3), build_encoder(cfg, 40, seed=3)
    c = build_encoder(cfg, 40, seed=4)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_patch_must_divide_image():
    with pytest.raises(ValueError, match="multiple of the ViT patch"):
        build_encoder(load_params().models["demo"], 42, seed=0)
