import dataclasses
import logging

import numpy as np
import pandas as pd
import pytest
from PIL import Image as PILImage

from pipeline.config import parse
from pipeline.params import Image, Split
from pipeline.prepare import TooManyCorrupt, channel_stats, load, prepare, save, stratified_split

GEOM = parse(Image, {"native_size": 64, "centre_crop": 32, "crop": 24, "input_size": 12,
                     "max_corrupt_fraction": 0.2}, "image")
SPLIT = parse(Split, {"train": 0.8, "val": 0.1, "test": 0.1}, "split")


def _write_images(tmp_path, n, corrupt=()):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        p = tmp_path / f"{i}.jpg"
        if i in corrupt:
            full = tmp_path / "full.jpg"
            PILImage.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(full)
            p.write_bytes(full.read_bytes()[:200])  # truncated JPEG
        else:
            PILImage.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(p)
        paths.append(p)
    return paths


def _selected(n):
    return pd.DataFrame({"id": [str(i) for i in range(n)], "label": ["a", "b"] * (n // 2),
                         "ra": 0.0, "dec": 0.0})


def test_shapes_splits_and_stats(tmp_path):
    paths = _write_images(tmp_path, 20)
    prepared, corrupt = prepare(_selected(20), paths, ["a", "b"], GEOM, SPLIT, 0, "t")
    assert corrupt == []
    assert prepared.images.shape == (20, 16, 16, 3) and prepared.images.dtype == np.uint8
    assert GEOM.stored_size == 16  # 32 * 12 / 24
    counts = prepared.index.groupby(["label", "split"]).size()
    assert counts[("a", "train")] == 8 and counts[("a", "val")] == 1 and counts[("a", "test")] == 1
    train = prepared.images[prepared.index["split"] == "train"].reshape(-1, 3) / 255.0
    assert np.allclose(prepared.mean, train.mean(0)) and np.allclose(prepared.std, train.std(0))
    save(prepared, tmp_path / "out")
    again = load(tmp_path / "out")
    assert np.array_equal(np.asarray(again.images), prepared.images)
    assert again.index["label_id"].tolist() == [0, 1] * 10


def test_corrupt_and_missing_images_are_reported_by_id_and_skipped(tmp_path):
    paths = _write_images(tmp_path, 20, corrupt={3})
    paths[7] = tmp_path / "missing.jpg"
    prepared, corrupt = prepare(_selected(20), paths, ["a", "b"], GEOM, SPLIT, 0, "t")
    assert [c["id"] for c in corrupt] == ["3", "7"]
    assert "does not decode" in corrupt[0]["reason"] and "missing" in corrupt[1]["reason"]
    assert len(prepared.index) == 18 and "3" not in prepared.index["id"].tolist()


def test_too_many_corrupt_is_fatal_and_says_why(tmp_path):
    paths = _write_images(tmp_path, 10, corrupt={0, 1, 2})
    with pytest.raises(TooManyCorrupt, match=r"3 of 10 images are corrupt.*max_corrupt_fraction.*0, 1, 2"):
        prepare(_selected(10), paths, ["a", "b"], GEOM, SPLIT, 0, "t")


def test_wrong_size_is_corrupt(tmp_path):
    paths = _write_images(tmp_path, 10)
    PILImage.new("RGB", (50, 50)).save(paths[4])
    _, corrupt = prepare(_selected(10), paths, ["a", "b"], GEOM, SPLIT, 0, "t")
    assert corrupt[0]["id"] == "4" and "size 50x50, expected 64x64" in corrupt[0]["reason"]


def test_split_is_seeded_and_stratified():
    labels = np.array(["a"] * 50 + ["b"] * 30)
    s1, s2, s3 = (stratified_split(labels, SPLIT, seed) for seed in (1, 1, 2))
    assert (s1 == s2).all() and not (s1 == s3).all()
    assert ((labels == "b") & (s1 == "test")).sum() == 3


def test_channel_stats_match_numpy():
    imgs = np.random.default_rng(0).integers(0, 255, (600, 4, 4, 3), dtype=np.uint8)
    mean, std = channel_stats(imgs)
    ref = imgs.reshape(-1, 3) / 255.0
    assert np.allclose(mean, ref.mean(0)) and np.allclose(std, ref.std(0))


def test_a_corrupt_image_is_named_by_its_file_with_what_to_do(tmp_path, caplog):
    """Never a galaxy dropped quietly: the warning names the file and how to fetch it again."""
    paths = _write_images(tmp_path, 10, corrupt={3})
    with caplog.at_level(logging.WARNING, logger="pipeline.prepare"):
        _, corrupt = prepare(_selected(10), paths, ["a", "b"], GEOM, SPLIT, 0, "t")
    assert corrupt[0]["id"] == "3" and corrupt[0]["reason"].startswith(f"{paths[3]}: does not decode")
    [warning] = caplog.messages
    assert warning.startswith(f"skipping galaxy 3: {paths[3]}: does not decode")
    assert "`dvc repro images@t` verifies every image again" in warning and "images/t/manifest.csv" in warning
    with pytest.raises(TooManyCorrupt, match=r"first ids: 3; `dvc repro images@t` verifies every image again"):
        prepare(_selected(10), paths, ["a", "b"], dataclasses.replace(GEOM, max_corrupt_fraction=0.0), SPLIT, 0, "t")
