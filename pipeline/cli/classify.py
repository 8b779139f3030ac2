"""`galaxy-contrastive classify`: kNN labels from a labelled bank, as the evaluate stage votes."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.cli.vectors import DEFAULT_REPRESENTATION, Vectors, VectorsError, read_vectors
from pipeline.embeddings import REPRESENTATIONS
from pipeline.knn import neighbours, vote
from pipeline.progress import write

HELP = "kNN labels (with the winning class's vote fraction) from a labelled bank"
DESCRIPTION = """\
Label every galaxy of EMBEDDINGS by a majority vote of its k most cosine-similar galaxies in the
labelled bank, exactly as the evaluate stage's kNN (same search, ties to the class listed first).
The confidence is the winning class's share of the k votes.
LABELLED is a pipeline embed folder (data/embed/<survey>/: its train split is the bank, as in
the evaluate stage) or an embeddings file with a `label` column.  EMBEDDINGS is an embeddings
file or a pipeline embed folder (--split picks one of its splits)."""
#: params.yaml's default ``evaluate.k``: the k whose predictions the evaluate stage writes.
DEFAULT_K = 15


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("classify", help=HELP, description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("embeddings", type=Path, metavar="EMBEDDINGS", help="galaxies to label: embeddings file or folder")
    p.add_argument("--bank", type=Path, required=True, metavar="LABELLED",
                   help="labelled galaxies: a pipeline embed folder (its train split) or a file with labels")
    p.add_argument("-k", type=int, default=DEFAULT_K, help=f"neighbours that vote (default {DEFAULT_K}, as evaluate.k)")
    p.add_argument("--representation", choices=REPRESENTATIONS, default=DEFAULT_REPRESENTATION,
                   help=f"which vectors to compare (default {DEFAULT_REPRESENTATION}, as the evaluate stage)")
    p.add_argument("--split", choices=("train", "val", "test"),
                   help="label only this split of a pipeline embed folder EMBEDDINGS")
    p.add_argument("-o", "--output", type=Path, help="also write the predictions to this CSV file")
    p.set_defaults(func=run)


def labelled_bank(path: Path) -> Vectors:
    """The bank of LABELLED: a pipeline folder's train split, or a labelled file whole."""
    bank = read_vectors(path)
    if bank.labels is None:
        raise VectorsError(f"--bank {path}: has no labels (a `label` column or a pipeline embed folder)")
    if bank.splits is not None:
        bank = bank.subset(bank.splits == "train")
        if not len(bank):
            raise VectorsError(f"--bank {path}: no galaxies in its train split")
    return bank


def predict(bank: Vectors, queries: Vectors, k: int, representation: str) -> pd.DataFrame:
    """id, predicted, confidence (winning vote share), actual when known, of every query."""
    classes = list(bank.classes or sorted(set(bank.labels)))
    known = set(classes)
    unknown = sorted(set(bank.labels) - known)
    if unknown:
        raise VectorsError(f"--bank {bank.source}: labels {unknown} are not among its classes {classes}")
    b, q = bank.representation(representation), queries.representation(representation)
    if b.shape[1] != q.shape[1]:
        raise VectorsError(f"{queries.source}: {representation} has {q.shape[1]} values, the bank "
                           f"{bank.source} {b.shape[1]}: embedded by different models")
    if not 1 <= k <= len(b):
        raise VectorsError(f"-k {k}: must be 1..{len(b)}, the size of the bank {bank.source}")
    label_ids = pd.Index(classes).get_indexer(bank.labels)
    idx, _ = neighbours(b, q, k)  # the evaluate stage's search (pipeline/metrics.py, knn_predict)
    votes = label_ids[idx]  # (Q, k)
    pred = vote(votes, len(classes))
    confidence = (votes == pred[:, None]).sum(1) / k
    table = pd.DataFrame({"id": queries.ids, "predicted": np.asarray(classes)[pred],
                          "confidence": np.round(confidence, 6)})
    if queries.labels is not None:
        table["actual"] = queries.labels
    if queries.paths is not None:
        table["path"] = queries.paths
    return table


def run(args: argparse.Namespace) -> int:
    bank = labelled_bank(args.bank)
    queries = read_vectors(args.embeddings)
    if args.split is not None:
        if queries.splits is None:
            raise VectorsError(f"--split {args.split}: {args.embeddings} has no splits (not a pipeline embed folder)")
        queries = queries.subset(queries.splits == args.split)
    if not len(queries):
        raise VectorsError(f"{args.embeddings}: no galaxies to classify")
    table = predict(bank, queries, args.k, args.representation)
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.output, index=False)
    write(f"# kNN k={args.k} on {args.representation}; confidence = winning class's share of the votes")
    if args.output is None:  # with -o the file is the result: a million rows need not scroll past
        write(table.to_string(index=False))
    else:
        write(f"# {len(table)} predictions written to {args.output}")
    if "actual" in table:
        write(f"# accuracy {100 * float(np.mean(table['predicted'] == table['actual'])):.2f}% "
              f"on {len(table)} labelled galaxies")
    return 0
