"""Stage `ablation_train@<survey>-<branch>`: a single-branch encoder (paper Sect. 4.3, Fig. 6).

CL_Res18 (``cnn``) or CL_ViT (``vit``): the survey's own model with the other branch left out,
trained exactly as `train@<survey>` trains the fusion encoder (same train block, augmentations,
seed, data and per-epoch validation), then embedded like `embed@<survey>`.
"""
from __future__ import annotations

from dataclasses import replace

import torch

from pipeline import paths, prepare
from pipeline.config import ConfigError
from pipeline.distributed import pick_device
from pipeline.embed import embed_chunks
from pipeline.embeddings import write_embeddings
from pipeline.model_file import load_model
from pipeline.params import Params
from pipeline.params_reads import not_a_dependency
from stages.common import stage_main
from stages.train import fit, setup_for


def check_branch(params: Params, survey: str, branch: str) -> None:
    """The command line's survey and branch must be ones the ablation params list.  A check, not
    a dependency: listing another survey or branch must not retrain the ones already listed."""
    with not_a_dependency():
        surveys, branches = list(params.ablation.surveys), list(params.ablation.branches)
    if survey not in surveys:
        raise ConfigError(f"ablation.surveys: {survey!r} is not listed {surveys}")
    if branch not in branches:
        raise ConfigError(f"ablation.branches: {branch!r} is not listed {branches} (allowed: cnn, vit)")


def run(name: str, branch: str, params: Params) -> None:
    check_branch(params, name, branch)
    survey = params.survey[name]
    torch.set_num_threads(survey.train.threads)
    prepared = prepare.load(paths.prepared_dir(name))
    model_name, setup = setup_for(name, survey, params, prepared)
    setup = replace(setup, model=replace(setup.model, branches=branch))
    model_file = paths.ablation_model_file(name, branch)
    fit(prepared, setup, name, model_name, paths.ablation_checkpoint(name, branch), paths.ablation_live_dir(name, branch),
        model_file, chunk_images=params.io.chunk_images)
    device = pick_device()
    model, _ = load_model(model_file, device)
    write_embeddings(paths.ablation_embeddings_dir(name, branch), prepared.index,
                     embed_chunks(model, prepared.images, survey.image.input_size, prepared.mean, prepared.std,
                                  params.evaluate.batch_size, device, chunk_images=params.io.chunk_images))
    print(f"{name}: {branch}-only encoder trained and embedded")


def main(argv: list[str] | None = None) -> None:
    stage_main(__doc__, run, ("survey", "branch"), argv)


if __name__ == "__main__":
    main()
