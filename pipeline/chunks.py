"""Reading the prepared images in bounded chunks, the next chunk read while the device works.

The prepared array (``images.npy``, (N, S, S, 3) uint8) is memory-mapped: only the rows a chunk
asks for are read, so host memory holds at most two chunks (the one in use and the one being
prefetched) whatever the survey's size.  A chunk's rows are read in ascending file order (the
disk's fast direction) and put back in the asked order before they are handed over.
"""
from __future__ import annotations

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


def gather(images: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``images[rows]`` for any order of ``rows``, reading the file front to back."""
    ascending = np.argsort(rows, kind="stable")
    out = np.empty((len(rows), *images.shape[1:]), dtype=images.dtype)
    out[ascending] = images[rows[ascending]]
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
    ready: queue.Queue = queue.Queue(maxsize=1)  # one chunk ahead: memory stays at two chunks
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
