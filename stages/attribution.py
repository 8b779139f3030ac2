"""Stage `attribution@<survey>`: Grad-CAM per CNN block and ViT relevance overlays (paper Fig. 16)."""
from __future__ import annotations

import torch

from pipeline import paths, prepare
from pipeline.attribution import attribute
from pipeline.embeddings import load_embeddings
from pipeline.model_file import load_model
from pipeline.params import Params, Survey
from stages.common import survey_stage, write_json

FIGURE = "overlays.png"


def run(name: str, survey: Survey, params: Params) -> None:
    # A few galaxies: seconds on the CPU, where the figure is also the same byte for byte every run.
    # One thread: for passes this small, a second one only adds synchronisation (seconds per pass
    # on a busy 2-core machine, against milliseconds on one).
    torch.set_num_threads(1)
    encoder, _ = load_model(paths.model_file(name), torch.device("cpu"))
    classes = list(survey.classes)
    figure, shown = attribute(encoder, prepare.load(paths.prepared_dir(name)),
                              load_embeddings(paths.embeddings_dir(name)), classes,
                              params.evaluate.representation, params.attribution.galaxies_per_class,
                              params.seed, name)
    out = paths.attribution_dir(name)
    out.mkdir(parents=True, exist_ok=True)
    figure.savefig(out / FIGURE, dpi=100)
    write_json(paths.attribution_galaxies(name), {"representation": params.evaluate.representation,
                                                  "galaxies": shown})
    print(f"{name}: attribution maps of {len(shown)} test galaxies -> {out / FIGURE}")


def main(argv: list[str] | None = None) -> None:
    survey_stage(__doc__, run, argv)


if __name__ == "__main__":
    main()
