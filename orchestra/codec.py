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
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from orchestra.config.model import frozen_env


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
    return _decoder(kind)(data)


Decoder = Callable[[object], Any]
#: One decoder per type, built from its hints once: a compiled plan of 200 services is ~1,400
#: dataclasses, and looking at type hints for every value cost ~20 ms of each run's start.
_DECODERS: dict[Any, Decoder] = {}


def _decoder(kind: Any) -> Decoder:
    decoder = _DECODERS.get(kind)
    if decoder is None:
        decoder = _DECODERS[kind] = _build(kind)
    return decoder


def _build(kind: Any) -> Decoder:
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [option for option in typing.get_args(kind) if option is not type(None)]
        inner = _decoder(options[0])
        if len(options) == len(typing.get_args(kind)):
            return inner
        return lambda data: None if data is None else inner(data)
    if origin in (tuple, frozenset):
        item = _decoder(typing.get_args(kind)[0])
        return lambda data: origin(map(item, _list(data)))
    if origin in (Mapping, dict) or kind is Mapping:
        return _mapping
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return _dataclass(kind)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return kind
    if kind is Path:
        return lambda data: Path(str(data))
    if kind in (str, int, float, bool):
        return _scalar(kind)
    if kind is Any or kind is object:
        return lambda data: data
    raise ValueError(f"cannot decode {kind!r}")


def _list(data: object) -> list[object]:
    if not isinstance(data, list):
        raise ValueError(f"expected a list, got {type(data).__name__}")
    return data


def _mapping(data: object) -> Mapping[str, str]:
    if not isinstance(data, dict):
        raise ValueError(f"expected a mapping, got {type(data).__name__}")
    return frozen_env({str(k): str(v) for k, v in data.items()})


def _scalar(kind: type) -> Decoder:
    accepted: tuple[type, ...] = (int, float) if kind is float else (kind,)

    def scalar(data: object) -> object:
        if not isinstance(data, accepted):
            raise ValueError(f"expected {kind.__name__}, got {data!r}")
        return kind(data)
    return scalar


def _dataclass(kind: type) -> Decoder:
    hints = typing.get_type_hints(kind)
    fields = [(f.name, hints[f.name]) for f in dataclasses.fields(kind)]
    built: list[tuple[str, Decoder]] = []

    def dataclass(data: object) -> object:
        if not isinstance(data, dict):
            raise ValueError(f"expected a mapping for {kind.__name__}")
        if not built:   # the fields' decoders, built at first use: the types may be recursive
            built.extend((name, _decoder(hint)) for name, hint in fields)
        return kind(**{name: field(data[name]) for name, field in built if name in data})
    return dataclass
