"""The chunked reader of the prepared images: the asked rows, in the asked order, bounded."""
from __future__ import annotations

import os
import threading

import numpy as np
import pytest
import torch

from pipeline.chunks import chunk_length, gather, read_chunks


@pytest.fixture
def stored(tmp_path):
    """A memory-mapped (N, S, S, 3) uint8 array on disk, as prepare writes it."""
    images = np.random.default_rng(0).integers(0, 256, (103, 4, 4, 3), dtype=np.uint8)
    np.save(tmp_path / "images.npy", images)
    return images, np.load(tmp_path / "images.npy", mmap_mode="r")


@pytest.mark.parametrize("prefetch", [True, False])
@pytest.mark.parametrize("length", [1, 10, 32, 103, 500])
def test_chunks_are_the_rows_of_the_full_array_in_the_epochs_order(stored, prefetch, length):
    images, mapped = stored
    order = np.random.default_rng(1).permutation(len(images))[:90]  # an epoch's permutation, ragged end cut
    chunks = list(read_chunks(mapped, order, length, prefetch=prefetch))
    assert all(len(c) == length for c in chunks[:-1]) and 0 < len(chunks[-1]) <= length
    assert all(c.dtype == torch.uint8 for c in chunks)
    assert np.array_equal(torch.cat(chunks).numpy(), images[order])
    in_memory = list(read_chunks(images, order, length, prefetch=prefetch))  # not a map: indexed, not read
    assert np.array_equal(torch.cat(in_memory).numpy(), images[order])


def test_gather_reads_any_order_including_repeats(stored):
    images, mapped = stored
    rows = np.array([5, 2, 2, 100, 0, 5])
    assert np.array_equal(gather(mapped, rows), images[rows])


def test_a_chunk_is_a_whole_number_of_batches():
    assert chunk_length(8192, 128) == 8192
    assert chunk_length(1000, 128) == 896
    assert chunk_length(100, 128) == 128  # at least one batch


def _within(seconds: float, body):
    """``body()``'s result, or a failure (not a hung test run) when it blocks past ``seconds``."""
    result: list = []
    thread = threading.Thread(target=lambda: result.append(body()), daemon=True)  # daemon: left behind if hung
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"blocked for more than {seconds} s")
    assert result, "the body raised (see the thread's traceback above)"
    return result[0]


def test_a_read_error_reaches_the_consumer_in_order(stored):
    _, mapped = stored
    rows = np.array([0, 1, 2, 3, 10_000])  # the last chunk asks for a row past the end
    chunks = read_chunks(mapped, rows, 2)

    def consume():
        sizes = [len(next(chunks)), len(next(chunks))]
        with pytest.raises(IndexError):
            next(chunks)
        return sizes

    assert _within(10, consume) == [2, 2]


def test_a_consumer_that_stops_early_stops_the_prefetch_thread(stored):
    _, mapped = stored
    chunks = read_chunks(mapped, np.arange(100), 5)
    next(chunks)
    _within(10, chunks.close)  # what a break or an exception in the training loop does
    assert not any(t.name == "prepared-prefetch" and t.is_alive() for t in threading.enumerate())


def _rss_file_kib() -> int:
    for line in open("/proc/self/status"):
        if line.startswith("RssFile:"):
            return int(line.split()[1])
    raise AssertionError("no RssFile in /proc/self/status")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="Linux's /proc reports mapped pages")
def test_pages_read_from_the_file_do_not_accumulate(tmp_path):
    """A pass over a 48 MiB memory-mapped array maps no more than a chunk's pages: the
    process's memory follows the chunk, not the array."""
    np.save(tmp_path / "big.npy", np.ones((4096, 64, 64, 3), dtype=np.uint8))
    mapped = np.load(tmp_path / "big.npy", mmap_mode="r")
    before, peak = _rss_file_kib(), 0
    for _ in read_chunks(mapped, np.random.default_rng(0).permutation(len(mapped)), 256):
        peak = max(peak, _rss_file_kib() - before)
    assert peak < 8 * 1024  # a chunk is 3 MiB; read through the map, ~48 MiB


def test_gather_makes_no_second_chunk_sized_copy(tmp_path):
    import tracemalloc

    np.save(tmp_path / "big.npy", np.ones((2048, 64, 64, 3), dtype=np.uint8))
    mapped = np.load(tmp_path / "big.npy", mmap_mode="r")
    rows = np.random.default_rng(0).permutation(len(mapped))
    tracemalloc.start()
    try:
        out = gather(mapped, rows)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.2 * out.nbytes  # the result plus one block of 256 rows, not two chunks
