"""Stage `embed@<survey>`: backbone and projection features of every split, keyed by id."""
from __future__ import annotations

import torch

from pipeline import paths, prepare
from pipeline.embed import embed_images
from pipeline.embeddings import save_embeddings
from pipeline.model import load_encoder
from pipeline.params import Params, Survey
from pipeline.train import pick_device
from stages.common import survey_stage


def run(name: str, survey: Survey, params: Params) -> None:
    torch.set_num_threads(survey.train.threads)
    device = pick_device()
    prepared = prepare.load(paths.prepared_dir(name))
    model = load_encoder(str(paths.model_file(name)), device)
    backbone, projection = embed_images(model, prepared.images, survey.image.input_size, prepared.mean,
                                        prepared.std, params.evaluate.batch_size, device)
    save_embeddings(paths.embeddings_file(name), prepared.index, backbone, projection)
    print(f"{name}: embedded {len(backbone)} galaxies: backbone {backbone.shape[1]}-d, "
          f"projection {projection.shape[1]}-d")


def main(argv: list[str] | None = None) -> None:
    survey_stage(__doc__, run, argv)


if __name__ == "__main__":
    main()
