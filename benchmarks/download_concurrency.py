"""Concurrent vs one-at-a-time image fetching against the loopback mirror (issue 3).

Every request to the mirror takes 50 ms (as a distant server); 400 cutouts are fetched through
the real code path (``cutout_jobs`` + ``run_jobs``: rate limit, retries, decode check, atomic
write) once with one request at a time and once with ``CONCURRENCY`` threads, in one run.  The
ratio of the two times must be at least 8, and the per-host rate limit must still hold: no
more than ``RATE_PER_S`` requests start in any one-second window.  The starts are timed where
the limiter admits them; the arrival times the server logs are reported beside them (they add
the scheduling jitter of 60-odd threads on a shared machine, a few milliseconds).

    python -m benchmarks.download_concurrency   # writes benchmarks/results/download_concurrency.txt
"""
from __future__ import annotations

import platform
import tempfile
import threading
import time
from pathlib import Path

from pipeline.download.http import HttpClient
from pipeline.download.ratelimit import RateLimiter
from pipeline.download.images import cutout_jobs, run_jobs
from pipeline.download.validate import ImageSpec
from pipeline.download.settings import HttpCfg
from tests.mirror.drawings import galaxy_image
from tests.mirror.replies import Reply
from tests.mirror.server import Mirror

N_IMAGES = 400
LATENCY_S = 0.05
CONCURRENCY = 32
RATE_PER_S = 250.0
SIZE = 64
RESULTS = Path(__file__).parent / "results" / "download_concurrency.txt"


class TimedLimiter(RateLimiter):
    """The project's limiter, noting when it lets each request start."""

    def __init__(self, rate_per_s: float, burst: int):
        super().__init__(rate_per_s, burst)
        self.starts: list[float] = []
        self._note = threading.Lock()

    def acquire(self, host: str) -> None:
        super().acquire(host)
        with self._note:
            self.starts.append(time.monotonic())


def fetch(mirror: Mirror, concurrency: int, out: Path, limiter: RateLimiter) -> float:
    """Seconds to fetch every image into ``out`` with ``concurrency`` threads."""
    http = HttpCfg(rate_per_s=RATE_PER_S, burst=1, retries=2, backoff_s=0.1, backoff_max_s=1.0,
                   connect_timeout_s=5.0, read_timeout_s=5.0, deadline_s=60.0, max_bytes=16_000_000)
    queries = {f"g{i}": {"ra": str(i), "dec": "0", "width": SIZE, "height": SIZE} for i in range(N_IMAGES)}
    client = HttpClient(http, limiter)
    spec = ImageSpec(SIZE, 0, "benchmark")
    jobs = cutout_jobs(client, mirror.url + "/cutout", queries, spec, out / "images", ".jpg")
    start = time.perf_counter()
    manifest = run_jobs(jobs, concurrency, 0.0, out / "images", out / "manifest.csv", "benchmark",
                        f"concurrency {concurrency}", spec=spec)
    elapsed = time.perf_counter() - start
    assert (manifest["status"] == "ok").all()
    return elapsed


def max_per_second(times: list[float]) -> int:
    """The most requests the server saw in any one-second window (windows start at a request)."""
    times = sorted(times)
    best, end = 0, 0
    for start, t in enumerate(times):
        while end < len(times) and times[end] < t + 1.0:
            end += 1
        best = max(best, end - start)
    return best


def main() -> None:
    image = galaxy_image("spiral", SIZE, 0)  # served from memory: the latency is the server's only cost
    with Mirror(latency_s=LATENCY_S) as mirror, tempfile.TemporaryDirectory() as tmp:
        mirror.serve("/cutout", lambda query: Reply(200, image, "image/jpeg"))
        serial = fetch(mirror, 1, Path(tmp) / "serial", RateLimiter(RATE_PER_S, 1))
        mirror.clear_log()
        limiter = TimedLimiter(RATE_PER_S, 1)
        concurrent = fetch(mirror, CONCURRENCY, Path(tmp) / "concurrent", limiter)
        peak = max_per_second(limiter.starts)
        arrivals = max_per_second([r.time for r in mirror.requests("/cutout")])
    ratio = serial / concurrent
    lines = [
        f"download concurrency benchmark (loopback mirror, {LATENCY_S * 1000:.0f} ms per request, "
        f"{N_IMAGES} images of {SIZE}x{SIZE} px)",
        f"one at a time:           {serial:6.2f} s  ({N_IMAGES / serial:6.1f} images/s)",
        f"concurrency {CONCURRENCY}:          {concurrent:6.2f} s  ({N_IMAGES / concurrent:6.1f} images/s)",
        f"speed-up:                {ratio:6.1f}x  (required: >= 8x)",
        f"rate limit:              {RATE_PER_S:.0f} requests/s per host, burst 1",
        f"most requests started in any 1 s window:   {peak}  (required: <= {RATE_PER_S:.0f})",
        f"most arriving at the server in any 1 s window: {arrivals}  (with thread-scheduling jitter)",
        f"python {platform.python_version()}, {platform.machine()}",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if ratio < 8 or peak > RATE_PER_S:
        raise SystemExit(f"benchmark failed: speed-up {ratio:.1f}x (need >= 8), "
                         f"peak {peak} requests/s (limit {RATE_PER_S:.0f})")


if __name__ == "__main__":
    main()
