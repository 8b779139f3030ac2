"""Which params keys a stage reads: recorded for the test that dvc.yaml declares them (issue 8).

With the environment variable ``PIPELINE_RECORD_READS`` naming a folder, a stage records every
params value it reads and, when it exits, writes the dotted keys to ``<folder>/<stage>.json``
(e.g. ``train@sim_gz2.json``).  ``tests/test_dvc_deps.py`` compares them with the stage's
``params`` in dvc.yaml.  Without the variable nothing is installed: stages run as they always do.

How: every params dataclass instance is stamped with its dotted key, and the params classes'
attribute lookup records ``<key>.<field>`` for a value that is not itself a params dataclass (or
a mapping or list of them, whose members record their own reads).  A plain mapping (a source
block, ``sim_population``) counts as read whole.  Reads made only to check a value before it is
used elsewhere (a source checks the selection before any download; the select stage applies it)
go inside :func:`not_a_dependency`.
"""
from __future__ import annotations

import atexit
import dataclasses
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

ENV = "PIPELINE_RECORD_READS"
PATH_ATTR = "_params_key"

_reads: set[str] = set()
_paused = 0


def start(params: Any, stage: str) -> None:
    """Record the reads of ``params`` (the parsed params.yaml) by stage ``stage`` when ``ENV`` is
    set; write them at exit."""
    folder = os.environ.get(ENV)
    if not folder:
        return
    for cls in _stamp(params, ""):
        cls.__getattribute__ = _recording_getattribute
    out = Path(folder) / f"{stage}.json"
    atexit.register(lambda: _write(out))


@contextmanager
def not_a_dependency() -> Iterator[None]:
    """Reads inside this block are validation only: not recorded."""
    global _paused
    _paused += 1
    try:
        yield
    finally:
        _paused -= 1


def _write(out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(sorted(_reads), indent=1) + "\n")


def _stamp(value: Any, key: str) -> set[type]:
    """Stamp every params dataclass under ``value`` with its key; return their classes."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        object.__setattr__(value, PATH_ATTR, key)
        classes = {type(value)}
        for field in dataclasses.fields(value):
            classes |= _stamp(object.__getattribute__(value, field.name), _join(key, field.name))
        return classes
    if isinstance(value, dict):
        return set().union(*(_stamp(v, _join(key, str(k))) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return set().union(*(_stamp(v, _join(key, str(i))) for i, v in enumerate(value)))
    return set()


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def _holds_params(value: Any) -> bool:
    """A params dataclass, or a non-empty mapping / list of them (which record their own reads)."""
    if dataclasses.is_dataclass(value):
        return True
    members = list(value.values()) if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else []
    return bool(members) and all(dataclasses.is_dataclass(m) for m in members)


def _recording_getattribute(self: Any, name: str) -> Any:
    value = object.__getattribute__(self, name)
    key = object.__getattribute__(self, "__dict__").get(PATH_ATTR)  # None: made after start
    if (key is not None and _paused == 0 and name in type(self).__dataclass_fields__
            and not _holds_params(value)):
        _reads.add(_join(key, name))
    return value
