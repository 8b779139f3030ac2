"""Stage `train@<survey>`: contrastive pretraining with per-epoch DVCLive logs and checkpoints."""
from __future__ import annotations

import os
import sys
from contextlib import nullcontext
from pathlib import Path

import torch
from dvclive import Live

from pipeline import distributed, paths, prepare
from pipeline.colour import read_colour
from pipeline.distributed import Rank
from pipeline.params import Params, Survey
from pipeline.prepare import Prepared
from pipeline.shared import read_augment, read_model
from pipeline.model_file import save_model
from pipeline.train import Setup, data_digest, model_info, train
from stages.common import survey_stage


def fit(prepared: Prepared, setup: Setup, survey: str, model_name: str, checkpoint: Path, live_dir: Path, out: Path, *,
        chunk_images: int, rank: Rank = Rank(), device: torch.device | None = None) -> list[dict[str, float]]:
    """Train (resuming from ``checkpoint``), log every epoch to ``live_dir`` with DVCLive and save
    the encoder to ``out`` as a self-describing model file; returns the per-epoch history.
    Shared with `ablation_train`.  With several ranks, rank 0 alone logs and writes."""
    # dvcyaml=False: metrics and plots are declared in dvc.yaml by hand (DESIGN sect. 3).
    with Live(str(live_dir), dvcyaml=False, save_dvc_exp=False) if rank.is_main else nullcontext() as live:
        def log(row: dict[str, float]) -> None:
            if live is None:
                return
            for key, value in row.items():
                if key != "epoch":
                    live.log_metric(key, value)
            live.next_step()

        model, history = train(prepared, setup, checkpoint, log, device, chunk_images=chunk_images, rank=rank)
    if rank.is_main:
        # Everything needed to use the weights goes with them: the stages and the command-line
        # tool rebuild and feed the encoder from this file alone (pipeline/model_file.py).
        colour = read_colour(paths.shared_dir(survey))  # how FITS input becomes the survey's RGB
        save_model(out, model, model_info(setup, survey, model_name, prepared,
                                          None if colour is None else colour.as_dict()))
        checkpoint.unlink(missing_ok=True)  # finished: the next run of this stage starts afresh
    return history


def setup_for(name: str, survey: Survey, params: Params, prepared: Prepared) -> tuple[str, Setup]:
    """The survey's model name and training setup, from its train block and shared files."""
    model_name, model_cfg = read_model(paths.shared_dir(name))
    return model_name, Setup(train=survey.train, model=model_cfg, augment=read_augment(paths.shared_dir(name)),
                             image=survey.image, evaluate=params.evaluate, classes=list(survey.classes),
                             seed=params.seed, data_digest=data_digest(prepared), knn=params.knn)


def run(name: str, survey: Survey, params: Params) -> None:
    cfg = survey.train
    if cfg.devices * cfg.nodes > 1 and not distributed.under_torchrun():
        # The same command, once per device: torchrun starts the processes and sets their ranks.
        cmd = distributed.torchrun_command("stages.train", sys.argv[1:], cfg.devices, cfg.nodes, f"survey.{name}.train")
        print(" ".join(cmd), flush=True)
        os.execv(cmd[0], cmd)
    torch.set_num_threads(cfg.threads)
    rank = distributed.init(distributed.pick_device().type)
    prepared = prepare.load(paths.prepared_dir(name))
    model_name, setup = setup_for(name, survey, params, prepared)
    fit(prepared, setup, name, model_name, paths.checkpoint_file(name), paths.train_live_dir(name), paths.model_file(name),
        chunk_images=params.io.chunk_images, rank=rank, device=distributed.device_for(rank))


def main(argv: list[str] | None = None) -> None:
    survey_stage(__doc__, run, argv)


if __name__ == "__main__":
    main()
