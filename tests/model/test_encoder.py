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


@pytest.mark.parametrize("branches,present,absent", [("cnn", "cnn", "vit"), ("vit", "vit", "cnn")])
def test_single_branch_encoders_leave_the_other_branch_out(branches, present, absent):
    """The ablation's CL_Res18 / CL_ViT (paper Fig. 6): one branch, its features alone."""
    from dataclasses import replace

    cfg = load_params().models["demo"]
    fusion = build_encoder(cfg, 40, seed=0).eval()
    single = build_encoder(replace(cfg, branches=branches), 40, seed=0).eval()
    assert getattr(single, absent) is None
    assert not any(name.startswith(absent + ".") for name in single.state_dict())
    x = torch.randn(2, 3, 40, 40)
    with torch.no_grad():
        alone = getattr(single, present)(x)
        assert single.backbone(x).shape == (2, alone.shape[1]) and torch.equal(single.backbone(x), alone)
        assert single(x).shape == fusion(x).shape
        assert fusion.backbone(x).shape[1] == fusion.cnn.out_dim + fusion.vit.out_dim


def test_fusion_weights_do_not_depend_on_the_branches_key():
    """``branches: fusion`` builds what the encoder was before the key existed: the same seed
    gives the same weights whether the key is written or left to its default."""
    from dataclasses import asdict

    from pipeline.config import parse
    from pipeline.params import Model

    raw = asdict(load_params().models["demo"])
    raw.pop("branches")
    a = build_encoder(parse(Model, raw, "models.demo"), 40, seed=3).state_dict()
    b = build_encoder(load_params().models["demo"], 40, seed=3).state_dict()
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("stride", [1, 2])
def test_residual_block_equals_torchvisions(stride):
    """Our BasicBlock (kept out of torchvision for import time) against torchvision's, the oracle:
    same parameter names, same initial weights for a seed, same output in train and eval mode."""
    from torch import nn
    from torchvision.models.resnet import BasicBlock as Reference

    from pipeline.model.cnn import BasicBlock

    def build(cls):
        torch.manual_seed(stride)
        in_ch = 8 if stride == 2 else 16
        down = nn.Sequential(nn.Conv2d(in_ch, 16, 1, stride=2, bias=False), nn.BatchNorm2d(16)) if stride == 2 else None
        return cls(in_ch, 16, stride=stride, downsample=down)

    ours, ref = build(BasicBlock), build(Reference)
    assert list(ours.state_dict()) == list(ref.state_dict())
    assert all(torch.equal(ours.state_dict()[k], ref.state_dict()[k]) for k in ref.state_dict())
    x = torch.randn(3, 8 if stride == 2 else 16, 10, 10)
    for mode in (True, False):
        ours.train(mode), ref.train(mode)
        assert torch.allclose(ours(x), ref(x), atol=1e-6)
