"""Exact vs approximate kNN search on 1 million synthetic 512-d embeddings, in one run (issue 11).

The approximate index is built and searched by pipeline/knn.py's own functions (`build_index`,
`search_chunked`: what the stages run above `knn.approx_above`), with params.yaml's `knn`
settings; the benchmark only forces the approximate index whatever `knn.approx_above` says.
The exact search is faiss IndexFlatIP, as the stages' exact path, timed on a sample of the
queries (it is slow); recall@15 is the approximate top-15's share of the exact top-15 on that
sample.  Both searches use all of faiss's OpenMP threads, on batches of queries.

    nice python benchmarks/knn_scale.py [--n 1000000] [--dim 512] [--queries 10000]
                                        [--exact-queries 1000] [--index ivf|hnsw] [--nprobe 8] ...

Writes benchmarks/results/knn_scale.json (`n`, `dim`, `index`, `recall_at_15`, `exact_qps`,
`approx_qps`, `build_s`, `peak_memory_gib` and the settings) and prints a summary.

The vectors: uniform random vectors have no neighbour structure (in 512 dimensions every point
is about equally far from every other), so no approximate index can find their neighbours and
no real embedding looks like them.  Learned representations are clustered and locally
low-dimensional: classes, sub-populations inside a class, and within a sub-population a few
directions of variation (size, inclination, colour ...).  So the set is a seeded mixture on the
unit sphere: `--groups` group centres (classes); `--clusters` cluster centres spread around
them (cosine about 0.7 to their group's centre, so sibling clusters overlap a little); each
cluster of uneven size (log-normal) varies along its own `--intrinsic-dim` random directions,
plus an isotropic noise in all 512 (half as large); every vector L2-normalised, as the kNN's
cosine.  With the defaults (1 million vectors) a query's nearest neighbour is at cosine 0.75
on average, its 15th at 0.67, a random vector at 0.01.  Queries are held-out vectors of the
same mixture.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import sys
import time
from pathlib import Path

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.knn import build_index, n_lists, recall_at_k, search_chunked  # noqa: E402
from pipeline.params import load_params  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
K = 15


def clustered_sphere(n: int, dim: int, groups: int, clusters: int, intrinsic_dim: int, spread: float,
                     noise: float, seed: int) -> np.ndarray:
    """(n, dim) float32 unit vectors of the seeded mixture described in the module docstring."""
    rng = np.random.default_rng(seed)

    def unit(x: np.ndarray) -> np.ndarray:
        return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)

    group_centres = unit(rng.standard_normal((groups, dim)))
    centres = unit(group_centres[rng.integers(0, groups, clusters)] + unit(rng.standard_normal((clusters, dim))))
    sizes = rng.lognormal(0.0, 0.7, clusters)
    labels = rng.choice(clusters, n, p=sizes / sizes.sum())
    out = np.empty((n, dim), dtype=np.float32)
    for c in range(clusters):
        rows = np.flatnonzero(labels == c)
        basis = unit(rng.standard_normal((intrinsic_dim, dim)))  # the cluster's own directions
        z = rng.standard_normal((len(rows), intrinsic_dim), dtype=np.float32) * (spread / np.sqrt(intrinsic_dim))
        iso = rng.standard_normal((len(rows), dim), dtype=np.float32) * (noise / np.sqrt(dim))
        out[rows] = centres[c] + z @ basis + iso
    faiss.normalize_L2(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="bank vectors")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=10_000, help="held-out queries for the approximate index")
    parser.add_argument("--exact-queries", type=int, default=1000,
                        help="of those, searched exactly too: the exact qps and recall@15")
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--clusters", type=int, default=2000)
    parser.add_argument("--intrinsic-dim", type=int, default=16)
    parser.add_argument("--spread", type=float, default=1.0, help="norm of a vector's in-cluster offset")
    parser.add_argument("--noise", type=float, default=0.5, help="norm of its isotropic noise")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--index", choices=["ivf", "hnsw"], help="default: params knn.index")
    parser.add_argument("--nlist", type=int, help="default: params knn.ivf.nlist")
    parser.add_argument("--nprobe", type=int, help="default: params knn.ivf.nprobe")
    parser.add_argument("--ef-search", type=int, help="default: params knn.hnsw.ef_search")
    parser.add_argument("--out", type=Path, default=RESULTS / "knn_scale.json")
    args = parser.parse_args()

    cfg = load_params().knn
    cfg = dataclasses.replace(
        cfg, index=args.index or cfg.index,
        ivf=dataclasses.replace(cfg.ivf, nlist=cfg.ivf.nlist if args.nlist is None else args.nlist,
                                nprobe=args.nprobe or cfg.ivf.nprobe),
        hnsw=dataclasses.replace(cfg.hnsw, ef_search=args.ef_search or cfg.hnsw.ef_search))
    t = time.perf_counter()
    x = clustered_sphere(args.n + args.queries, args.dim, args.groups, args.clusters, args.intrinsic_dim,
                         args.spread, args.noise, args.seed)
    bank, queries = x[:args.n], x[args.n:]  # views: no copy
    print(f"{args.n:,} + {args.queries:,} vectors of {args.dim} made in {time.perf_counter() - t:.0f} s; "
          f"faiss threads: {faiss.omp_get_max_threads()}", flush=True)

    exact_q = queries[:args.exact_queries]
    flat = faiss.IndexFlatIP(args.dim)
    flat.add(bank)
    t = time.perf_counter()
    _, exact = flat.search(exact_q, K)
    exact_qps = len(exact_q) / (time.perf_counter() - t)
    del flat  # its copy of the bank goes before the approximate index makes its own
    print(f"exact IndexFlatIP: {exact_qps:,.1f} queries/s", flush=True)

    t = time.perf_counter()
    index = build_index(bank, cfg)
    build_s = time.perf_counter() - t
    print(f"approximate {cfg.index}: built in {build_s:.1f} s", flush=True)
    search_chunked(index, queries[:100], K, cfg.query_chunk)  # warm-up
    t = time.perf_counter()
    approx = search_chunked(index, queries, K, cfg.query_chunk)
    approx_qps = len(queries) / (time.perf_counter() - t)
    recall = recall_at_k(approx[:len(exact_q)], exact)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux

    settings = {"index": cfg.index, "query_chunk": cfg.query_chunk}
    settings |= ({"nlist": n_lists(cfg, args.n), "nprobe": cfg.ivf.nprobe, "train_per_list": cfg.ivf.train_per_list}
                 if cfg.index == "ivf" else dataclasses.asdict(cfg.hnsw))
    result = {
        "n": args.n, "dim": args.dim, "index": cfg.index, "recall_at_15": round(recall, 4),
        "exact_qps": round(exact_qps, 1), "approx_qps": round(approx_qps, 1),
        "speedup": round(approx_qps / exact_qps, 1), "build_s": round(build_s, 1),
        "peak_memory_gib": round(peak, 2), "queries": args.queries, "exact_queries": len(exact_q),
        "threads": faiss.omp_get_max_threads(), "settings": settings,
        "data": {key: getattr(args, key) for key in ("groups", "clusters", "intrinsic_dim", "spread", "noise", "seed")},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"approximate {cfg.index} {settings}: {approx_qps:,.1f} queries/s, {approx_qps / exact_qps:.1f}x exact; "
          f"recall@{K} {recall:.4f}; build {build_s:.1f} s; peak memory {peak:.2f} GiB -> {args.out}")


if __name__ == "__main__":
    main()
