"""`galaxy-contrastive similar`: the galaxies most like a given one, by cosine similarity."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from pipeline.cli.embed import file_digest, read_rgb
from pipeline.cli.grid import check_grid_path, write_grid
from pipeline.cli.nearest import nearest
from pipeline.cli.vectors import DEFAULT_REPRESENTATION, Vectors, VectorsError, read_vectors
from pipeline.embed import embed_images
from pipeline.embeddings import REPRESENTATIONS
from pipeline.imaging import CorruptImage, to_stored
from pipeline.inputs import Item
from pipeline.model_file import load_model
from pipeline.progress import write

HELP = "the k galaxies most similar to a galaxy id or an image (cosine similarity)"
DESCRIPTION = """\
The k galaxies of EMBEDDINGS most similar to QUERY, by cosine similarity of their vectors (faiss
inner product of L2-normalised vectors, the evaluate stage's kNN search).  QUERY is a galaxy id
in EMBEDDINGS (it comes first, similarity 1.0) or an image file, which --model embeds first.
EMBEDDINGS is a file written by `galaxy-contrastive embed` or a pipeline embed folder
(data/embed/<survey>/)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("similar", help=HELP, description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("embeddings", type=Path, metavar="EMBEDDINGS", help="embeddings file (.parquet) or embed folder")
    p.add_argument("query", metavar="QUERY", help="a galaxy id in EMBEDDINGS, or an image file (needs --model)")
    p.add_argument("-k", type=int, default=20, help="how many galaxies to list (default 20)")
    p.add_argument("--representation", choices=REPRESENTATIONS, default=DEFAULT_REPRESENTATION,
                   help=f"which vectors to compare (default {DEFAULT_REPRESENTATION}, as the evaluate stage)")
    p.add_argument("-o", "--output", type=Path, help="also write the table to this CSV file")
    p.add_argument("--grid", type=Path, help="draw the query and its neighbours: a .png or self-contained .html")
    p.add_argument("--model", type=Path, help="model file to embed an image QUERY with (the one that made EMBEDDINGS)")
    p.add_argument("--resize", action="store_true",
                   help="an image QUERY of another size is resampled to the model's native size (as `embed --resize`)")
    p.set_defaults(func=run)


def _query_vector(vectors: Vectors, args: argparse.Namespace) -> tuple[np.ndarray, int | None, str, str]:
    """(1, D) query vector, its row in ``vectors`` (None for an image), its id and its path."""
    if np.any(vectors.ids == args.query) or not Path(args.query).is_file():
        row = vectors.row_of(args.query)  # an unknown id that is no file either: the error names both
        path = vectors.paths[row] if vectors.paths is not None else ""
        return vectors.representation(args.representation)[row:row + 1], row, args.query, path
    if args.model is None:
        raise VectorsError(f"{args.query}: an image QUERY needs --model (the model file that made "
                           f"{args.embeddings}) to embed it")
    backbone, projection = embed_one(args.model, Path(args.query), args.resize, vectors.meta.get("model_digest"))
    query = backbone if args.representation == "backbone" else projection
    width = vectors.representation(args.representation).shape[1]
    if query.shape[1] != width:
        raise VectorsError(f"--model {args.model}: its {args.representation} has {query.shape[1]} values, "
                           f"{args.embeddings}'s {width}: not the model that made EMBEDDINGS")
    return query, None, Path(args.query).stem, args.query


def embed_one(model_path: Path, image_path: Path, resize: bool,
              expected_digest: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(backbone, projection), each (1, D), of one image file, read as `embed` reads it."""
    if expected_digest is not None and file_digest(model_path) != expected_digest:
        raise VectorsError(f"--model {model_path}: not the model file that made EMBEDDINGS "
                           f"(its SHA-256 differs from the file's model_digest)")
    model, info = load_model(model_path)
    image = info.image()
    try:
        rgb = read_rgb(Item(image_path.stem, str(image_path), file=image_path), image, info, resize)
    except CorruptImage as exc:
        raise VectorsError(str(exc)) from None
    return embed_images(model, to_stored(rgb, image)[None], image.input_size, info.mean, info.std, 1,
                        torch.device("cpu"))


def similar_table(vectors: Vectors, query: np.ndarray, k: int, representation: str,
                  query_row: int | None = None) -> pd.DataFrame:
    """The ``k`` galaxies most similar to ``query`` (1, D): rank, id, similarity, path.

    ``query_row``: the query's own row, put first even when an exact duplicate ties with it.
    """
    k = min(k, len(vectors))
    idx, sims = nearest(vectors.representation(representation), query, k)
    idx, sims = idx[0], sims[0]
    if query_row is not None and idx[0] != query_row:
        # a duplicate vector ties at similarity 1: the galaxy asked about still comes first
        keep = idx != query_row
        own = float(sims[~keep][0]) if (~keep).any() else 1.0
        idx = np.concatenate([[query_row], idx[keep]])[:k]
        sims = np.concatenate([[own], sims[keep]])[:k]
    return pd.DataFrame({"rank": np.arange(1, len(idx) + 1), "id": vectors.ids[idx],
                         "similarity": np.round(sims.astype(np.float64), 6),
                         "path": vectors.paths[idx] if vectors.paths is not None else ""})


def run(args: argparse.Namespace) -> int:
    if args.k < 1:
        raise VectorsError(f"-k {args.k}: must be at least 1")
    vectors = read_vectors(args.embeddings)
    if args.grid is not None:
        check_grid_path(args.grid, vectors.paths is not None, args.embeddings)
    query, row, query_id, query_path = _query_vector(vectors, args)
    table = similar_table(vectors, query, args.k, args.representation, row)
    write(f"# cosine similarity ({args.representation}) to {query_id}")
    write(table.to_string(index=False))
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.output, index=False)
    if args.grid is not None:
        paths = ([] if row is not None else [query_path]) + table["path"].tolist()
        captions = ([] if row is not None else [f"query\n{query_id}"]) + \
            [f"{r.rank}. {r.id}\n{r.similarity:.4f}" for r in table.itertuples()]
        write_grid(args.grid, paths, captions, f"Most similar to {query_id} ({args.representation})")
    return 0
