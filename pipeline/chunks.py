"""Reading the prepared images in bounded chunks, the next chunk read while the device works.

The prepared array (``images.npy``, (N, S, S, 3) uint8) is memory-mapped: only the rows a chunk
asks for are read, so host memory holds about three chunks (the one in use, the one waiting in
the queue, the next being read) whatever the survey's size.  A chunk's rows are read in
ascending file order (the disk's fast direction), each into its place in the asked order.
"""
from __future__ import annotations

import mmap
import os
import queue
import threading
from typing import Iterator

import numpy as np
import torch


def chunk_length(chunk_images: int, batch: int) -> int:
    """The largest multiple of ``batch`` that is at most ``chunk_images`` (at least one batch).

    A batch never straddles two chunks, so chunking changes neither the batches nor the results.
    """
    return max(batch, chunk_images // batch * batch)


#: Rows copied at a time from an in-memory array inside :func:`gather`: its only temporary.
_GATHER_BLOCK = 256


def _file_rows(images: np.ndarray) -> tuple[str, int] | None:
    """(file, byte offset of row 0) when ``images`` is a whole memory-mapped ``.npy`` array."""
    if isinstance(images, np.memmap) and isinstance(images.base, mmap.mmap) and images.flags.c_contiguous:
        return str(images.filename), int(images.offset)
    return None


def gather(images: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``images[rows]`` for any order of ``rows``, reading front to back, straight into the result.

    A memory-mapped array is read with ``pread`` rather than through its map: pages touched
    through a map stay counted in the process's memory until unmapped, so a pass over a survey
    would grow the process by the survey's size.  Read this way, the pages stay in the kernel's
    page cache (the next epoch reads from memory) and the process holds only the result.
    """
    ascending = np.argsort(rows, kind="stable")
    out = np.empty((len(rows), *images.shape[1:]), dtype=images.dtype)
    where = _file_rows(images)
    if where is None:
        for start in range(0, len(rows), _GATHER_BLOCK):
            block = ascending[start:start + _GATHER_BLOCK]
            out[block] = images[rows[block]]
        return out
    path, offset = where
    row_bytes = out[0].nbytes if len(out) else 0
    flat = out.reshape(len(out), -1).view(np.uint8)
    with open(path, "rb", buffering=0) as f:
        for i in ascending:
            row = int(rows[i])
            if not 0 <= row < len(images):
                raise IndexError(f"row {row} is out of bounds for {len(images)} images in {path}")
            got = os.preadv(f.fileno(), [flat[i]], offset + row * row_bytes)
            if got != row_bytes:
                raise OSError(f"{path}: row {row} cut short ({got} of {row_bytes} bytes): the file is truncated")
    return out


def read_chunks(images: np.ndarray, rows: np.ndarray, length: int, *, pin: bool = False,
                prefetch: bool = True) -> Iterator[torch.Tensor]:
    """Yield ``images[rows]`` as uint8 tensors of ``length`` rows (the last one may be shorter).

    With ``pin`` the tensors are in page-locked memory, ready for a ``non_blocking`` copy to a
    GPU.  With ``prefetch`` a background thread reads chunk i + 1 while chunk i is in use (NumPy
    releases the GIL while it copies); an error in the thread is raised here, in order.
    """
    starts = range(0, len(rows), length)

    def load(start: int) -> torch.Tensor:
        chunk = torch.from_numpy(gather(images, np.asarray(rows[start:start + length])))
        return chunk.pin_memory() if pin else chunk

    if not prefetch or len(starts) < 2:
        for start in starts:
            yield load(start)
        return
    ready: queue.Queue = queue.Queue(maxsize=1)  # one chunk ahead: memory stays at about three chunks
    stop = threading.Event()

    def worker() -> None:
        for start in starts:
            try:
                item: object = load(start)
            except BaseException as exc:  # handed to the consumer, raised there
                item = exc
            while not stop.is_set():
                try:
                    ready.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if stop.is_set() or isinstance(item, BaseException):
                return

    thread = threading.Thread(target=worker, name="prepared-prefetch", daemon=True)
    thread.start()
    try:
        for _ in starts:
            item = ready.get()
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()  # a consumer that stops early (an error, an interrupt) lets the thread end
        thread.join()
