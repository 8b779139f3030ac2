"""Stage `train@<survey>`: contrastive pretraining with per-epoch DVCLive logs and checkpoints."""
from __future__ import annotations

from dataclasses import asdict

import torch
from dvclive import Live

from pipeline import paths, prepare
from pipeline.params import Params, Survey
from pipeline.shared import read_augment, read_model
from pipeline.train import Setup, data_digest, train
from stages.common import survey_stage


def run(name: str, survey: Survey, params: Params) -> None:
    torch.set_num_threads(survey.train.threads)
    prepared = prepare.load(paths.prepared_dir(name))
    model_name, model_cfg = read_model(paths.shared_dir(name))
    setup = Setup(train=survey.train, model=model_cfg, augment=read_augment(paths.shared_dir(name)),
                  image=survey.image, evaluate=params.evaluate, classes=list(survey.classes),
                  seed=params.seed, data_digest=data_digest(prepared))
    checkpoint = paths.checkpoint_file(name)
    # dvcyaml=False: metrics and plots are declared in dvc.yaml by hand (DESIGN sect. 3).
    with Live(str(paths.train_live_dir(name)), dvcyaml=False, save_dvc_exp=False) as live:
        def log(row: dict[str, float]) -> None:
            for key, value in row.items():
                if key != "epoch":
                    live.log_metric(key, value)
            live.next_step()

        model, _history = train(prepared, setup, checkpoint, log)
    out = paths.model_file(name)
    out.parent.mkdir(parents=True, exist_ok=True)
    # The widths go with the weights: embed and cross rebuild the encoder from this file alone.
    torch.save({"model": model.state_dict(), "model_name": model_name, "model_cfg": asdict(model_cfg),
                "image_size": survey.image.input_size}, out)
    checkpoint.unlink(missing_ok=True)  # finished: the next run of this stage starts afresh


def main(argv: list[str] | None = None) -> None:
    survey_stage(__doc__, run, argv)


if __name__ == "__main__":
    main()
