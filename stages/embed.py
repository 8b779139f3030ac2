"""Stage `embed@<survey>`: backbone and projection features of every split, keyed by id."""
from __future__ import annotations

import torch

from pipeline import paths, prepare, progress
from pipeline.distributed import pick_device
from pipeline.embed import embed_chunks
from pipeline.embeddings import write_embeddings
from pipeline.model_file import load_model
from pipeline.params import Params, Survey
from stages.common import survey_stage


def run(name: str, survey: Survey, params: Params) -> None:
    torch.set_num_threads(survey.train.threads)
    device = pick_device()
    prepared = prepare.load(paths.prepared_dir(name))
    model, _ = load_model(paths.model_file(name), device)
    chunks = embed_chunks(model, prepared.images, survey.image.input_size, prepared.mean, prepared.std,
                          params.evaluate.batch_size, device, chunk_images=params.io.chunk_images)
    with progress.progress(total=len(prepared.index), desc=f"embed {name}", unit="galaxy") as bar:
        def counted():
            for chunk in chunks:
                yield chunk
                bar.update(len(chunk[0]))

        write_embeddings(paths.embeddings_dir(name), prepared.index, counted())
    print(f"{name}: embedded {len(prepared.index)} galaxies into {paths.embeddings_dir(name)}")


def main(argv: list[str] | None = None) -> None:
    survey_stage(__doc__, run, argv)


if __name__ == "__main__":
    main()
