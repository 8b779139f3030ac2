"""Stage `evaluate@<survey>`: kNN (both protocols), NMI, ARI, confusion, and two baselines."""
from __future__ import annotations

import pandas as pd
import torch

from pipeline import paths, prepare
from pipeline.distributed import pick_device
from pipeline.embed import embed_images
from pipeline.embeddings import load_embeddings
from pipeline.evaluate import evaluate_representation, headline, pixel_features
from pipeline.model import build_encoder
from pipeline.params import Params, Survey
from pipeline.shared import read_model
from stages.common import survey_stage, write_json


def run(name: str, survey: Survey, params: Params) -> None:
    torch.set_num_threads(survey.train.threads)
    ev = params.evaluate
    classes = list(survey.classes)
    emb = load_embeddings(paths.embeddings_dir(name))
    labels, split = emb["label_id"], emb["split"]

    def scores(features):
        return evaluate_representation(features, labels, split, list(ev.ks), ev.k, classes, search=params.knn)

    reps = {rep: scores(emb[rep]) for rep in ("backbone", "projection")}
    main_rep = reps[ev.representation]

    prepared = prepare.load(paths.prepared_dir(name))
    untrained = build_encoder(read_model(paths.shared_dir(name))[1], survey.image.input_size, params.seed)
    random_backbone, random_proj = embed_images(untrained, prepared.images, survey.image.input_size,
                                                prepared.mean, prepared.std, ev.batch_size, pick_device(),
                                                chunk_images=params.io.chunk_images)
    random_feats = random_backbone if ev.representation == "backbone" else random_proj
    pixels = pixel_features(prepared, survey.image.input_size, ev.pixel_baseline_size, params.io.chunk_images)

    def brief(r: dict) -> dict:
        # `search` (the approximate index's recall) only where the bank was above knn.approx_above
        return {key: r[key] for key in ("knn", "knn_loo", "knn_val", "nmi", "ari", "nmi_loo", "ari_loo", "search")
                if key in r}

    baselines = {"random_init": scores(random_feats), "pixels": scores(pixels)}
    baseline_search = {name: r["search"] for name, r in baselines.items() if "search" in r}
    metrics = {
        **brief(main_rep),
        "n_train": int((split == "train").sum()),
        "n_val": int((split == "val").sum()),
        "n_test": int((split == "test").sum()),
        "recall": main_rep["recall"],
        # the same kNN under each protocol, so that every comparison can be made in both
        "baseline": {name: r["knn"] for name, r in baselines.items()},
        "baseline_loo": {name: r["knn_loo"] for name, r in baselines.items()},
        "baseline_val": {name: r["knn_val"] for name, r in baselines.items()},
        **({"baseline_search": baseline_search} if baseline_search else {}),
        "representations": {rep: brief(r) for rep, r in reps.items()},
    }
    write_json(paths.evaluate_metrics(name), metrics)
    write_json(paths.headline_metrics(name), headline(metrics, ev.k))
    test = split == "test"
    pd.DataFrame({"id": emb["id"][test], "actual": [classes[i] for i in labels[test]],
                  "predicted": [classes[i] for i in main_rep["pred"]]}).to_csv(paths.confusion_file(name), index=False)
    for protocol, key in (("", "baseline"), ("_loo", "baseline_loo")):
        k = f"k{ev.k}"
        print(f"{name}: kNN{protocol} k{ev.k} {metrics['knn' + protocol][k]:.2f}% (random init "
              f"{metrics[key]['random_init'][k]:.2f}%, pixels {metrics[key]['pixels'][k]:.2f}%)")
    for protocol, s in main_rep.get("search", {}).items():
        print(f"{name}: {protocol} approximate ({s['index']}) recall@{s['k']} {s['recall_at_k']:.4f} "
              f"against the exact search on {s['sample']} queries")


def main(argv: list[str] | None = None) -> None:
    survey_stage(__doc__, run, argv)


if __name__ == "__main__":
    main()
