"""Survey sources by kind: one module per source, all with the :class:`Source` interface."""
from __future__ import annotations

import importlib

from pipeline.config import ConfigError
from pipeline.params import Survey
from pipeline.surveys.base import Source

# kind -> "module:class"; imported lazily so a survey's heavy dependencies load only when used.
SOURCES = {
    "sim": "pipeline.surveys.sim:SimSource",
}


def get_source(name: str, survey: Survey, seed: int) -> Source:
    """The source object of survey ``name`` as configured in ``survey.<name>.source``."""
    kind = survey.source["kind"]
    if kind not in SOURCES:
        raise ConfigError(f"survey.{name}.source.kind: unknown source kind {kind!r} "
                          f"(known: {', '.join(sorted(SOURCES))})")
    module, cls = SOURCES[kind].split(":")
    return getattr(importlib.import_module(module), cls)(name, survey.source, seed)
