"""Batched two-view augmentations on the training device (paper Sect. 3.2).

No per-sample Python or PIL work: every sample of a batch draws its own random parameters,
and one ``grid_sample`` applies window crop + resized crop + rotation + flips together.

Reading of the paper: "random crop with a scale factor of 0.8" is a random resized crop whose
area fraction is uniform in [crop_scale_min, 1] (square windows); the preprocessing random crop
of 180 out of 224 (Fig. 2) is the random position of the ``size`` window in the stored image.
Colour jitter (brightness, contrast, saturation, hue, applied in that fixed order) fires with
probability ``jitter_p`` and grayscale with ``grayscale_p``, as in the reference code.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from pipeline.params import Augment

# ITU-R BT.601 luma weights (what torchvision's rgb_to_grayscale uses).
_LUMA = (0.299, 0.587, 0.114)
# RGB <-> YIQ: hue rotation is a rotation of the (I, Q) chroma plane.
_RGB2YIQ = ((0.299, 0.587, 0.114), (0.596, -0.274, -0.322), (0.211, -0.523, 0.312))


def _uniform(n: int, low: float, high: float, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.rand(n, generator=gen, device=device) * (high - low) + low


def _bernoulli(n: int, p: float, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.rand(n, generator=gen, device=device) < p


def geometric(x: torch.Tensor, out_size: int, cfg: Augment, gen: torch.Generator) -> torch.Tensor:
    """Random window + resized crop + rotation + flips, one affine per sample.

    ``x``: (B, C, S, S) float; returns (B, C, out_size, out_size).  The window of side
    ``out_size`` sits at a random position of the S-pixel stored image (paper Fig. 2).
    """
    b, _, s, _ = x.shape
    dev = x.device
    window = out_size / s                                            # window side, fraction of S
    area = _uniform(b, cfg.crop_scale_min, 1.0, gen, dev)
    side = window * area.sqrt()                                      # (B,) resized-crop side
    slack = 1.0 - side                                               # normalised coords span [-1, 1]
    centre = (torch.rand(b, 2, generator=gen, device=dev) * 2 - 1) * slack[:, None]
    angle = _uniform(b, 0.0, math.radians(cfg.rotation_degrees), gen, dev)
    flip_x = torch.where(_bernoulli(b, cfg.flip_p, gen, dev), -1.0, 1.0)
    flip_y = torch.where(_bernoulli(b, cfg.flip_p, gen, dev), -1.0, 1.0)
    cos, sin = angle.cos(), angle.sin()
    theta = torch.zeros(b, 2, 3, device=dev)                         # output -> input coords
    theta[:, 0, 0] = side * cos * flip_x
    theta[:, 0, 1] = -side * sin * flip_y
    theta[:, 1, 0] = side * sin * flip_x
    theta[:, 1, 1] = side * cos * flip_y
    theta[:, :, 2] = centre
    grid = F.affine_grid(theta, [b, x.shape[1], out_size, out_size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _gray(x: torch.Tensor) -> torch.Tensor:
    w = torch.tensor(_LUMA, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


def _blend(x: torch.Tensor, other: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    return (factor.view(-1, 1, 1, 1) * x + (1 - factor.view(-1, 1, 1, 1)) * other).clamp(0, 1)


def _hue_shift(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate chroma by ``shift`` turns in YIQ space: one 3x3 colour matrix per sample."""
    to_yiq = torch.tensor(_RGB2YIQ, device=x.device, dtype=x.dtype)
    ang = shift.to(x.dtype) * 2 * math.pi
    rot = torch.zeros(len(x), 3, 3, device=x.device, dtype=x.dtype)   # (B, 3, 3)
    rot[:, 0, 0] = 1
    rot[:, 1, 1], rot[:, 1, 2] = ang.cos(), -ang.sin()
    rot[:, 2, 1], rot[:, 2, 2] = ang.sin(), ang.cos()
    colour = torch.linalg.inv(to_yiq) @ rot @ to_yiq                   # (B, 3, 3)
    b, c, h, w = x.shape
    return torch.bmm(colour, x.reshape(b, c, h * w)).reshape(b, c, h, w).clamp(0, 1)


def photometric(x: torch.Tensor, cfg: Augment, gen: torch.Generator) -> torch.Tensor:
    """Colour jitter (probability ``jitter_p``) then grayscale (probability ``grayscale_p``)."""
    b, dev = x.shape[0], x.device
    j = cfg.jitter
    on = _bernoulli(b, cfg.jitter_p, gen, dev)
    ident = torch.ones(b, device=dev)
    bright = torch.where(on, _uniform(b, 1 - j.brightness, 1 + j.brightness, gen, dev), ident)
    contrast = torch.where(on, _uniform(b, max(0.0, 1 - j.contrast), 1 + j.contrast, gen, dev), ident)
    sat = torch.where(on, _uniform(b, max(0.0, 1 - j.saturation), 1 + j.saturation, gen, dev), ident)
    hue = torch.where(on, _uniform(b, -j.hue, j.hue, gen, dev), torch.zeros(b, device=dev))
    x = (x * bright.view(-1, 1, 1, 1)).clamp(0, 1)
    x = _blend(x, _gray(x).mean((2, 3), keepdim=True), contrast)
    x = _blend(x, _gray(x), sat)
    x = _hue_shift(x, hue)
    gray = _bernoulli(b, cfg.grayscale_p, gen, dev).view(-1, 1, 1, 1)
    return torch.where(gray, _gray(x).expand_as(x), x)


def normalise(x: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    m = torch.tensor(mean, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
    s = torch.tensor(std, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
    return (x - m) / s


def to_float(batch_uint8: torch.Tensor) -> torch.Tensor:
    """(B, H, W, 3) uint8 -> (B, 3, H, W) float in [0, 1]."""
    return batch_uint8.permute(0, 3, 1, 2).float().div_(255.0)


def view(x: torch.Tensor, out_size: int, cfg: Augment, mean: tuple[float, ...], std: tuple[float, ...],
         gen: torch.Generator) -> torch.Tensor:
    """One augmented, normalised view of a (B, 3, S, S) [0, 1] batch."""
    return normalise(photometric(geometric(x, out_size, cfg, gen), cfg, gen), mean, std)


def centre(x: torch.Tensor, out_size: int, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """The evaluation view: the centred ``out_size`` window, normalised (paper Fig. 2)."""
    s = x.shape[-1]
    top = (s - out_size) // 2
    return normalise(x[..., top:top + out_size, top:top + out_size], mean, std)
