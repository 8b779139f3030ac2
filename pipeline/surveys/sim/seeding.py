"""Random generators keyed by names, so every draw is reproducible from (seed, survey, id).

Python's ``hash`` of a string changes between processes; SHA-256 does not.
"""
from __future__ import annotations

import hashlib

import numpy as np


def _words(key: str) -> list[int]:
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return [int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4)]


def keyed_rng(seed: int, *keys: str) -> np.random.Generator:
    """A generator that depends only on ``seed`` and the ordered ``keys``."""
    entropy = [seed]
    for key in keys:
        entropy += _words(key)
    return np.random.default_rng(np.random.SeedSequence(entropy))
