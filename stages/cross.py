"""Stage `cross@<model>-<target>`: the model of one survey on another survey's galaxies (Fig. 11)."""
from __future__ import annotations

import numpy as np
import torch

from pipeline import paths, prepare
from pipeline.config import ConfigError
from pipeline.cross import subset_name, transfer_scores
from pipeline.distributed import pick_device
from pipeline.embed import embed_images
from pipeline.embeddings import save_embeddings
from pipeline.errors import InputError
from pipeline.model_file import load_model
from pipeline.params import Params, survey_params
from stages.common import stage_main, write_json


def run(model_name: str, target: str, params: Params) -> None:
    survey_params(params, model_name)  # a clear error for an unknown model survey
    target_survey = survey_params(params, target)
    torch.set_num_threads(target_survey.train.threads)
    device = pick_device()
    # B's own images and B's own normalisation, A's weights.
    prepared = prepare.load(paths.prepared_dir(target))
    keep = prepared.index["split"].isin(["train", "test"]).to_numpy()
    model, _ = load_model(paths.model_file(model_name), device)
    backbone, projection = embed_images(model, prepared.images, target_survey.image.input_size,
                                        prepared.mean, prepared.std, params.evaluate.batch_size, device,
                                        rows=np.flatnonzero(keep), chunk_images=params.io.chunk_images)
    index = prepared.index[keep]
    save_embeddings(paths.cross_embeddings_dir(model_name, target), index, backbone, projection)
    cfg = params.cross
    classes = list(target_survey.classes)
    features = backbone if cfg.representation == "backbone" else projection
    labels, split = index["label_id"].to_numpy(), index["split"].to_numpy()
    subsets = {None: classes, **{name: list(c) for name, c in cfg.subsets.get(target, {}).items()}}
    scores = {}
    for subset, keep_classes in subsets.items():
        try:
            scores[subset_name(target, subset)] = transfer_scores(
                features, labels, split, classes, keep_classes, [cfg.k], cfg.k, search=params.knn)
        except ConfigError:
            raise  # a knn params error names its own key
        except ValueError as exc:
            raise InputError(f"cross.subsets.{target}.{subset}: {exc}") from None
    write_json(paths.cross_scores_file(model_name, target), scores)
    print(f"cross {model_name} -> {target}: " + ", ".join(f"{t} {s['knn']:.1f}%" for t, s in scores.items()))


def main(argv: list[str] | None = None) -> None:
    stage_main(__doc__, run, ("model", "target"), argv)


if __name__ == "__main__":
    main()
