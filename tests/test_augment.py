import torch

from pipeline import augment
from pipeline.params import load_params


def _batch(b: int = 16, s: int = 50) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    img = torch.rand(1, 3, s, s, generator=g)
    return img.expand(b, -1, -1, -1).contiguous()  # the same image b times


def test_each_sample_draws_its_own_parameters():
    cfg = load_params().augment["paper"]
    x = _batch()
    out = augment.view(x, 40, cfg, (0.5,) * 3, (0.25,) * 3, torch.Generator().manual_seed(1))
    assert out.shape == (16, 3, 40, 40)
    flat = out.flatten(1)
    # Identical inputs must come out pairwise different: one parameter draw per sample.
    dists = torch.cdist(flat, flat) + torch.eye(16) * 1e9
    assert dists.min() > 1e-3


def test_same_generator_seed_is_reproducible_and_views_differ():
    cfg = load_params().augment["paper"]
    x = _batch(4)
    a = augment.view(x, 40, cfg, (0.5,) * 3, (0.25,) * 3, torch.Generator().manual_seed(7))
    b = augment.view(x, 40, cfg, (0.5,) * 3, (0.25,) * 3, torch.Generator().manual_seed(7))
    g = torch.Generator().manual_seed(7)
    v1 = augment.view(x, 40, cfg, (0.5,) * 3, (0.25,) * 3, g)
    v2 = augment.view(x, 40, cfg, (0.5,) * 3, (0.25,) * 3, g)
    assert torch.equal(a, b)
    assert not torch.allclose(v1, v2)


def test_identity_settings_reduce_to_the_centre_window():
    cfg = load_params().augment["paper"]
    ident = type(cfg)(flip_p=0.0, crop_scale_min=1.0, rotation_degrees=0.0, jitter=cfg.jitter,
                      jitter_p=0.0, grayscale_p=0.0)
    x = torch.rand(3, 3, 40, 40)
    out = augment.geometric(x, 40, ident, torch.Generator().manual_seed(0))
    assert torch.allclose(out, x, atol=1e-5)
    out = augment.photometric(x, ident, torch.Generator().manual_seed(0))
    assert torch.allclose(out, x, atol=1e-5)


def test_always_flip_mirrors_the_image():
    cfg = load_params().augment["paper"]
    flip = type(cfg)(flip_p=1.0, crop_scale_min=1.0, rotation_degrees=0.0, jitter=cfg.jitter,
                     jitter_p=0.0, grayscale_p=0.0)
    x = torch.rand(2, 3, 40, 40)
    out = augment.geometric(x, 40, flip, torch.Generator().manual_seed(0))
    assert torch.allclose(out, x.flip(2, 3), atol=1e-5)


def test_grayscale_always_makes_channels_equal():
    cfg = load_params().augment["paper"]
    gray = type(cfg)(flip_p=0.0, crop_scale_min=1.0, rotation_degrees=0.0, jitter=cfg.jitter,
                     jitter_p=0.0, grayscale_p=1.0)
    out = augment.photometric(torch.rand(2, 3, 8, 8), gray, torch.Generator().manual_seed(0))
    assert torch.allclose(out[:, 0], out[:, 1]) and torch.allclose(out[:, 1], out[:, 2])


def test_centre_view_takes_the_middle_window():
    x = torch.zeros(1, 3, 50, 50)
    x[..., 5:45, 5:45] = 1.0
    out = augment.centre(x, 40, (0.0,) * 3, (1.0,) * 3)
    assert out.shape == (1, 3, 40, 40) and torch.all(out == 1.0)
