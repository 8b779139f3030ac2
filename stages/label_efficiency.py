"""Stage `label_efficiency@<survey>`: contrastive vs supervised on few labels (paper Fig. 7)."""
from __future__ import annotations

import torch

from pipeline import paths, prepare
from pipeline.distributed import pick_device
from pipeline.embeddings import load_embeddings
from pipeline.errors import InputError
from pipeline.label_efficiency import curve, plot_curve
from pipeline.params import Params, Survey
from pipeline.shared import read_augment, read_model
from pipeline.supervised import Setup
from stages.common import survey_stage, write_json


def run(name: str, survey: Survey, params: Params) -> None:
    torch.set_num_threads(survey.train.threads)
    le = params.label_efficiency
    prepared = prepare.load(paths.prepared_dir(name))
    emb = load_embeddings(paths.embeddings_dir(name))
    if list(emb["id"]) != prepared.index["id"].astype(str).tolist():
        raise InputError(f"{paths.embeddings_dir(name)} and {paths.prepared_dir(name)} list different galaxies: "
                         f"rerun `dvc repro embed@{name}`")
    setup = Setup(cfg=le.supervised, model=read_model(paths.shared_dir(name))[1],
                  augment=read_augment(paths.shared_dir(name)), input_size=survey.image.input_size,
                  mean=tuple(prepared.mean), std=tuple(prepared.std), n_classes=len(survey.classes), seed=params.seed)
    results = curve(prepared, emb[le.representation], list(survey.classes), le, setup,
                    paths.label_efficiency_checkpoints(name), pick_device(), name, search=params.knn)
    write_json(paths.label_efficiency_metrics(name), results)
    plot_curve(results, name, le.k, paths.label_efficiency_plot(name))


def main(argv: list[str] | None = None) -> None:
    survey_stage(__doc__, run, argv)


if __name__ == "__main__":
    main()
