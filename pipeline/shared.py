"""The shared params blocks one survey uses, written as files (issue 8).

Several surveys share a named block of params.yaml: an encoder under ``models`` and an
augmentation set under ``augment`` (picked by ``survey.<name>.train.model`` / ``.augment``), and
the simulated surveys share the galaxy population ``sim_population``.  DVC cannot declare
"the model this survey names" as a params dependency (a dvc.yaml key cannot be looked up through
another param), so declaring the whole blocks made every edit of the demo model retrain the
paper-size models too, and made ``sim_population`` a param of the real surveys' catalogues.

The ``shared`` stage instead writes, per survey, exactly the blocks that survey uses, one file
each; the later stages depend on those files.  The stage itself reruns on any edit of the shared
blocks (it takes a moment), but a file whose content did not change leaves its dependants alone.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pipeline.config import ConfigError, parse
from pipeline.params import Augment, Model, Params, survey_params

MODEL_FILE, AUGMENT_FILE, POPULATION_FILE = "model.json", "augment.json", "population.json"
#: Source kinds that draw galaxies from ``sim_population``.
SIMULATED = ("sim",)


def shared_blocks(params: Params, name: str) -> dict[str, Any]:
    """File name -> content: the model and augmentation set survey ``name`` trains with (each with
    its name), and its galaxy population (None for a survey of real galaxies)."""
    train = survey_params(params, name).train
    simulated = survey_params(params, name).source["kind"] in SIMULATED
    return {
        MODEL_FILE: {"name": train.model, "block": asdict(params.models[train.model])},
        AUGMENT_FILE: {"name": train.augment, "block": asdict(params.augment[train.augment])},
        POPULATION_FILE: params.sim_population if simulated else None,
    }


def write_shared(out_dir: Path, blocks: dict[str, Any]) -> None:
    """One JSON file per block, keys sorted, so unchanged blocks give byte-identical files."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for file, content in blocks.items():
        (out_dir / file).write_text(json.dumps(content, indent=1, sort_keys=True) + "\n")


def _read(folder: Path, file: str) -> Any:
    path = folder / file
    if not path.exists():
        raise ConfigError(f"{path}: missing; run the shared stage first (dvc repro)")
    return json.loads(path.read_text())


def read_model(folder: Path) -> tuple[str, Model]:
    """(name, encoder widths) of the survey's model."""
    saved = _read(folder, MODEL_FILE)
    return saved["name"], parse(Model, saved["block"], f"models.{saved['name']}")


def read_augment(folder: Path) -> Augment:
    saved = _read(folder, AUGMENT_FILE)
    return parse(Augment, saved["block"], f"augment.{saved['name']}")


def read_population(folder: Path) -> dict[str, Any] | None:
    """The ``sim_population`` block of a simulated survey; None for real galaxies."""
    return _read(folder, POPULATION_FILE)
