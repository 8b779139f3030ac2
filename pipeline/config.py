"""Load and validate ``params.yaml`` once, with errors that name the offending key.

Every threshold and hyperparameter of the pipeline lives in ``params.yaml``; this module turns
that file into frozen dataclasses.  Parsing is strict: an unknown key (a typo), a missing key,
a value of the wrong type or out of range raises :class:`ConfigError` naming the dotted path of
the key, e.g. ``survey.sim_gz2.train.temperature``.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Literal, Mapping, TypeVar, Union

from pipeline.errors import InputError

T = TypeVar("T")


class ConfigError(InputError, ValueError):
    """A params value is missing, unknown, mistyped or out of range; the message names the key."""


def parse(cls: type[T], data: Any, path: str) -> T:
    """Build dataclass ``cls`` from a mapping, checking keys and types recursively.

    ``path`` is the dotted location of ``data`` in params.yaml and prefixes every error.
    A dataclass may define ``validate(self, path)`` for range checks; it runs after parsing.
    """
    return _convert(cls, data, path)


def _convert(tp: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return _convert_dataclass(tp, value, path)
    if tp is Any:
        return value
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise ConfigError(f"{path}: {value!r} is not one of {list(allowed)}")
        return value
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, path)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{path}: {value!r} fits none of {args}")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected a list, got {type(value).__name__} {value!r}")
        (item_tp, *_rest) = typing.get_args(tp) or (Any,)
        return tuple(_convert(item_tp, v, f"{path}.{i}") for i, v in enumerate(value))
    if origin in (dict, Mapping) or origin is typing.get_origin(Mapping[str, int]):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path}: expected a mapping, got {type(value).__name__} {value!r}")
        key_tp, val_tp = typing.get_args(tp) or (str, Any)
        return {_convert(key_tp, k, f"{path}.{k}"): _convert(val_tp, v, f"{path}.{k}")
                for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {value!r}")
        return value
    raise TypeError(f"unsupported config type {tp!r} at {path}")


def _convert_dataclass(cls: Any, value: Any, path: str) -> Any:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path}: expected a mapping, got {type(value).__name__} {value!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise ConfigError(f"{path}.{unknown[0]}: unknown key (allowed: {', '.join(sorted(fields))})")
    kwargs = {}
    for name, field in fields.items():
        key_path = f"{path}.{name}" if path else name
        if name in value:
            kwargs[name] = _convert(hints[name], value[name], key_path)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{key_path}: missing key")
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if validate is not None:
        validate(path)
    return obj


def require(ok: bool, path: str, message: str) -> None:
    """Raise :class:`ConfigError` for ``path`` unless ``ok``; used by ``validate`` methods."""
    if not ok:
        raise ConfigError(f"{path}: {message}")


def check_fraction(value: float, path: str, *, open_low: bool = False) -> None:
    """A probability-like value must lie in [0, 1] (or (0, 1] with ``open_low``)."""
    low_ok = value > 0 if open_low else value >= 0
    require(low_ok and value <= 1, path, f"{value} must lie in {'(' if open_low else '['}0, 1]")


def check_positive(value: float, path: str) -> None:
    require(value > 0, path, f"{value} must be positive")


def read_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    """Read params.yaml as plain data; a missing or malformed file names itself."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: params file not found (run from the repository root)")
    import yaml  # here: the GPU benchmark imports pipeline.params where PyYAML is not installed

    try:
        # libyaml's C loader when PyYAML has it: every stage reads the whole file
        data = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data
