import pytest
import torch

from pipeline.model import build_encoder
from pipeline.params import load_params

PAPER_TOTAL = 4_187_328  # Table 2
TABLE2_INPUT = 84  # Table 2's input side


def test_paper_configuration_size_and_output():
    model = build_encoder(load_params().models["paper"], TABLE2_INPUT, seed=0)
    n = sum(p.numel() for p in model.parameters())
    assert abs(n / PAPER_TOTAL - 1) < 0.03, n
    model.eval()
    z = model(torch.randn(3, 3, 84, 84))
    assert z.shape == (3, 128)
    assert torch.allclose(z.norm(dim=1), torch.ones(3), atol=1e-5)
    assert model.backbone(torch.randn(2, 3, 84, 84)).shape == (2, 512)


def test_paper_configuration_has_table_2_shapes():
    """Every intermediate shape of Table 2 on an 84 x 84 input, read by forward hooks.

    The parameter count alone cannot see a stride or a class token: a stride-1 stage or a
    ViT without its class token changes it by under 0.01 %.
    """
    model = build_encoder(load_params().models["paper"], TABLE2_INPUT, seed=0).eval()
    cnn, vit = model.cnn.features, model.vit
    watched = {"stem": cnn[0], "layer2": cnn[3], "layer3": cnn[4], "cnn": model.cnn, "patches": vit.to_tokens[0],
               "embed": vit.to_tokens, "vit": vit, "projector hidden": model.projector[0],
               "projection": model.projector[3]}
    watched.update({f"attention {i}": block for i, block in enumerate(vit.blocks)})
    shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}
    hooks = [module.register_forward_hook(
        lambda _m, args, out, name=name: shapes.__setitem__(name, (tuple(args[0].shape[1:]), tuple(out.shape[1:]))))
        for name, module in watched.items()]
    with torch.no_grad():
        model(torch.randn(2, 3, TABLE2_INPUT, TABLE2_INPUT))
    for hook in hooks:
        hook.remove()
    expected = {  # (input, output) without the batch axis, as Table 2 lists them
        "stem": ((3, 84, 84), (64, 80, 80)),
        "layer2": ((64, 80, 80), (128, 40, 40)),
        "layer3": ((128, 40, 40), (256, 20, 20)),
        "cnn": ((3, 84, 84), (256,)),
        "patches": ((3, 84, 84), (49, 432)),          # 7 x 7 patches of 12 x 12 x 3
        "embed": ((3, 84, 84), (49, 128)),
        "vit": ((3, 84, 84), (256,)),
        "projector hidden": ((512,), (512,)),
        "projection": ((512,), (128,)),
        **{f"attention {i}": ((50, 128), (50, 128)) for i in range(6)},  # 49 + 1 class token
    }
    assert shapes == expected


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
