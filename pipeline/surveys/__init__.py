"""Survey sources by kind: one module per source, all with the :class:`Source` interface."""
from __future__ import annotations

import importlib
import inspect
from typing import Any, Mapping

from pipeline import paths
from pipeline.config import ConfigError
from pipeline.params import Params, Survey, survey_params
from pipeline.shared import read_population
from pipeline.surveys.base import Source

# kind -> "module:class"; imported lazily so a survey's heavy dependencies load only when used.
SOURCES = {
    "sim": "pipeline.surveys.sim:SimSource",
    "gz2": "pipeline.surveys.gz2:Gz2Source",
    "sdss": "pipeline.surveys.sdss:SdssSource",
    "decals": "pipeline.surveys.decals:DecalsSource",
    "local": "pipeline.surveys.local:LocalSource",
}


def get_source(name: str, survey: Survey, seed: int, *, sim_population: Mapping[str, Any] | None = None) -> Source:
    """The source object of survey ``name`` as configured in ``survey.<name>.source``.

    ``sim_population`` (params.yaml's top-level block, as the shared stage wrote it for this
    survey) goes to simulated sources only.
    """
    kind = survey.source["kind"]
    if kind not in SOURCES:
        raise ConfigError(f"survey.{name}.source.kind: unknown source kind {kind!r} "
                          f"(known: {', '.join(sorted(SOURCES))})")
    module, cls = SOURCES[kind].split(":")
    source_class = getattr(importlib.import_module(module), cls)
    # A source that validates the selection up front or reads the image geometry (one place
    # for each fact: cutouts are fetched at image.native_size)
    # declares a keyword ``survey``.
    wanted = inspect.signature(source_class).parameters
    extra = {key: value for key, value in (("survey", survey), ("population", sim_population)) if key in wanted}
    return source_class(name, survey.source, seed, **extra)


def source_for(name: str, params: Params) -> Source:
    """The source of survey ``name`` as the catalogue and images stages build it: its params
    block, the seed, and the galaxy population the shared stage wrote for it."""
    return get_source(name, survey_params(params, name), params.seed,
                      sim_population=read_population(paths.shared_dir(name)))
