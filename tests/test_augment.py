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


def test_flips_are_mirror_images_drawn_per_axis():
    """Each axis flips on its own: the mirror images (one flip) occur, not only 180-degree turns.

    One flip on both axes is a 180-degree rotation, so a test with flip_p = 1 cannot tell flips
    from a rotation; a single flip gives a mirror image, which no rotation can produce.  The
    marked image makes all four outcomes different.
    """
    cfg = load_params().augment["paper"]
    flips = type(cfg)(flip_p=0.5, crop_scale_min=1.0, rotation_degrees=0.0, jitter=cfg.jitter,
                      jitter_p=0.0, grayscale_p=0.0)
    marked = torch.zeros(1, 3, 40, 40)
    marked[..., 5, 12] = 1.0                                          # top-left quadrant, off the diagonal
    marked[..., 30:34, 2] = 0.5                                       # and a short stroke
    outcomes = {"identity": marked, "left-right mirror": marked.flip(3), "top-bottom mirror": marked.flip(2),
                "180-degree turn": marked.flip(2, 3)}
    assert all(not torch.equal(a, b) for i, a in enumerate(outcomes.values())
               for b in list(outcomes.values())[i + 1:])
    out = augment.geometric(marked.expand(64, -1, -1, -1), 40, flips, torch.Generator().manual_seed(0))
    seen = []
    for sample in out:
        match = [name for name, img in outcomes.items() if torch.allclose(sample, img[0], atol=1e-5)]
        assert len(match) == 1, "a flip must be an exact mirror of the image"
        seen += match
    counts = {name: seen.count(name) for name in outcomes}
    assert all(n >= 6 for n in counts.values()), counts                # ~16 each of 64


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
