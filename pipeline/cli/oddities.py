"""`galaxy-contrastive oddities`: the galaxies least like any other (the paper's closing aim)."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.cli.grid import check_grid_path, write_grid
from pipeline.cli.nearest import nearest
from pipeline.cli.vectors import Vectors, VectorsError, read_vectors
from pipeline.embeddings import REPRESENTATIONS
from pipeline.progress import write

#: What the score is, in --help and above the table.
SCORE = "oddity = mean cosine distance (1 - cosine similarity) to the k nearest other galaxies"
#: The backbone, not the projection the kNN compares: the projection head is trained to forget
#: what the augmentations change, and with it much of what makes an image odd.  On the tiny test
#: model a star-only frame, a blank frame and pure noise rank 1, 2 and 16 of 86 on the backbone,
#: 1, 2 and 34 on the projection.
DEFAULT_REPRESENTATION = "backbone"
HELP = "the n galaxies least like any other (mean cosine distance to their k nearest neighbours)"
DESCRIPTION = f"""\
Rank the galaxies of EMBEDDINGS by how unlike their neighbours they are and list the n oddest.
The score: {SCORE}
(itself excluded; faiss inner product of L2-normalised vectors).  Frames with no galaxy in
them (blank, only stars) rank highest, then noise, artefacts and peculiar galaxies.  EMBEDDINGS is a
file written by `galaxy-contrastive embed` or a pipeline embed folder (data/embed/<survey>/)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("oddities", help=HELP, description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("embeddings", type=Path, metavar="EMBEDDINGS", help="embeddings file (.parquet) or embed folder")
    p.add_argument("-n", type=int, default=50, help="how many galaxies to list (default 50)")
    p.add_argument("-k", type=int, default=10, help="neighbours the score averages over (default 10)")
    p.add_argument("--representation", choices=REPRESENTATIONS, default=DEFAULT_REPRESENTATION,
                   help=f"which vectors to compare (default {DEFAULT_REPRESENTATION}: it keeps what the projection "
                        f"head discards)")
    p.add_argument("-o", "--output", type=Path, help="also write the table to this CSV file")
    p.add_argument("--grid", type=Path, help="draw the oddest galaxies: a .png or self-contained .html")
    p.set_defaults(func=run)


def oddity_scores(features: np.ndarray, k: int) -> np.ndarray:
    """Each row's mean cosine distance to its ``k`` nearest other rows (higher: odder)."""
    _, sims = nearest(features, features, k, exclude_self=True)
    return 1.0 - sims.astype(np.float64).mean(1)


def oddities_table(vectors: Vectors, n: int, k: int, representation: str) -> pd.DataFrame:
    """The ``n`` oddest galaxies, oddest first: rank, id, oddity, path (and label when known)."""
    if not 1 <= k < len(vectors):
        raise VectorsError(f"-k {k}: must be 1..{len(vectors) - 1} (other galaxies in {vectors.source})")
    scores = oddity_scores(vectors.representation(representation), k)
    order = np.argsort(-scores, kind="stable")[:n]
    table = pd.DataFrame({"rank": np.arange(1, len(order) + 1), "id": vectors.ids[order],
                          "oddity": np.round(scores[order], 6)})
    if vectors.labels is not None:
        table["label"] = vectors.labels[order]
    table["path"] = vectors.paths[order] if vectors.paths is not None else ""
    return table


def run(args: argparse.Namespace) -> int:
    if args.n < 1:
        raise VectorsError(f"-n {args.n}: must be at least 1")
    vectors = read_vectors(args.embeddings)
    if args.grid is not None:
        check_grid_path(args.grid, vectors.paths is not None, args.embeddings)
    table = oddities_table(vectors, args.n, args.k, args.representation)
    write(f"# {SCORE}, k={args.k}, {args.representation}; oddest first")
    write(table.to_string(index=False))
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.output, index=False)
    if args.grid is not None:
        write_grid(args.grid, table["path"].tolist(),
                   [f"{r.rank}. {r.id}\n{r.oddity:.4f}" for r in table.itertuples()],
                   f"Oddest {len(table)} of {len(vectors)} (k={args.k}, {args.representation})")
    return 0
