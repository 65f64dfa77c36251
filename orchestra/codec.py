"""Frozen dataclasses ⇄ JSON, driven by their type hints: how a compiled invocation is stored.

JSON rather than pickle: a cache file must never be able to run code when it is read.
Supported: dataclasses, enums (by value), Path, str/int/float/bool/None, tuples
(`tuple[X, ...]`), frozensets, lists and string-keyed mappings, and `X | None`.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orchestra.config.model import frozen_env

_HINTS: dict[type, dict[str, Any]] = {}


def encode(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list | frozenset | set):
        items = sorted(value) if isinstance(value, frozenset | set) else value
        return [encode(item) for item in items]
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    return value


def decode(kind: Any, data: object) -> Any:
    """Rebuild a value of type `kind` from `encode`'s output; ValueError if it does not fit."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(kind)
        if data is None and type(None) in options:
            return None
        for option in options:
            if option is not type(None):
                return decode(option, data)
    if origin is tuple:
        return tuple(decode(typing.get_args(kind)[0], item) for item in _list(data))
    if origin is frozenset:
        return frozenset(decode(typing.get_args(kind)[0], item) for item in _list(data))
    if origin in (Mapping, dict) or kind is Mapping:
        if not isinstance(data, dict):
            raise ValueError(f"expected a mapping, got {type(data).__name__}")
        return frozen_env({str(k): str(v) for k, v in data.items()})
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return _dataclass(kind, data)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return kind(data)
    if kind is Path:
        return Path(str(data))
    if kind in (str, int, float, bool):
        if not isinstance(data, kind) and not (kind is float and isinstance(data, int)):
            raise ValueError(f"expected {kind.__name__}, got {data!r}")
        return kind(data)
    if kind is Any or kind is object:
        return data
    raise ValueError(f"cannot decode {kind!r}")


def _list(data: object) -> list[object]:
    if not isinstance(data, list):
        raise ValueError(f"expected a list, got {type(data).__name__}")
    return data


def _dataclass(kind: type, data: object) -> object:
    if not isinstance(data, dict):
        raise ValueError(f"expected a mapping for {kind.__name__}")
    hints = _HINTS.get(kind)
    if hints is None:
        hints = _HINTS[kind] = typing.get_type_hints(kind)
    values = {f.name: decode(hints[f.name], data[f.name])
              for f in dataclasses.fields(kind) if f.name in data}
    return kind(**values)
