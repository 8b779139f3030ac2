"""Batched on-device augmentation vs a seed-style per-sample PIL pipeline, in one run.

Both make two views per image with the paper's augmentations (Sect. 3.2); the ratio of their
throughputs is what to read (the machines are shared and noisy, absolute numbers vary).

    python benchmarks/augment_throughput.py [--n 1024] [--device cpu]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from PIL import Image
from torchvision import transforms

from pipeline import augment
from pipeline.params import load_params


def per_sample_pipeline(cfg, size: int) -> transforms.Compose:
    j = cfg.jitter
    return transforms.Compose([
        transforms.RandomCrop(size),
        transforms.RandomResizedCrop(size, scale=(cfg.crop_scale_min, 1.0), ratio=(1.0, 1.0)),
        transforms.RandomHorizontalFlip(cfg.flip_p),
        transforms.RandomVerticalFlip(cfg.flip_p),
        transforms.RandomRotation(cfg.rotation_degrees),
        transforms.RandomApply([transforms.ColorJitter(j.brightness, j.contrast, j.saturation, j.hue)], cfg.jitter_p),
        transforms.RandomGrayscale(cfg.grayscale_p),
        transforms.ToTensor(),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1024)
    parser.add_argument("--stored", type=int, default=50)
    parser.add_argument("--size", type=int, default=40)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (PIL uses one)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_params().augment["paper"]
    images = np.random.default_rng(0).integers(0, 255, (args.n, args.stored, args.stored, 3), dtype=np.uint8)

    pil = [Image.fromarray(im) for im in images]
    tf = per_sample_pipeline(cfg, args.size)
    t = time.perf_counter()
    for im in pil:
        tf(im), tf(im)
    per_sample = args.n / (time.perf_counter() - t)

    dev = torch.device(args.device)
    x = augment.to_float(torch.from_numpy(images).to(dev))
    gen = torch.Generator(device=dev).manual_seed(0)
    mean, std = (0.5,) * 3, (0.25,) * 3
    augment.view(x[:8], args.size, cfg, mean, std, gen)  # warm-up
    t = time.perf_counter()
    for start in range(0, args.n, 256):
        b = x[start:start + 256]
        augment.view(b, args.size, cfg, mean, std, gen), augment.view(b, args.size, cfg, mean, std, gen)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    batched = args.n / (time.perf_counter() - t)
    print(f"per-sample PIL (torchvision): {per_sample:9.0f} images/s (two views each)")
    print(f"batched on {args.device:<17}: {batched:9.0f} images/s (two views each)")
    print(f"ratio: {batched / per_sample:.1f}x")


if __name__ == "__main__":
    main()
