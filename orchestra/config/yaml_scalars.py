"""YAML scalars as values: the core schema's kinds, and numbers that keep their text.

`config/source.py` composes nodes and asks here what a scalar is worth; no tag ever builds
anything but these plain values.
"""

from __future__ import annotations

import math


class WrittenInt(int):
    """An integer that keeps the text it was written as: `0755`, `0x1F`, `010`.

    An env value is text to the process; `env: {MODE: 0755}` means the characters `0755`,
    not 493. Everything else (ports, counts) sees an int."""

    written: str

    def __new__(cls, value: int, written: str) -> WrittenInt:
        number = super().__new__(cls, value)
        number.written = written
        return number


class WrittenFloat(float):
    """A float that keeps the text it was written as: `1.10`, `1e3`, `.5` (see WrittenInt)."""

    written: str

    def __new__(cls, value: float, written: str) -> WrittenFloat:
        number = super().__new__(cls, value)
        number.written = written
        return number


def with_written_text(value: object, text: str) -> object:
    """A number that keeps its text (`WrittenInt`/`WrittenFloat`); anything else as it is."""
    if isinstance(value, int) and not isinstance(value, bool):
        return WrittenInt(value, text)
    if isinstance(value, float):
        return WrittenFloat(value, text)
    return value


def scalar_value(text: str, kind: str) -> object:
    """The value of a scalar written `text` with the core tag `kind` (str, int, float, bool,
    null, timestamp); ValueError when an explicit tag does not fit the text."""
    if kind == "null":
        if text not in ("", "~", "null", "Null", "NULL"):
            raise ValueError(text)
        return None
    if kind == "bool":
        if text.lower() not in ("true", "false"):
            raise ValueError(text)
        return text.lower() == "true"
    if kind == "int":
        return _int(text)
    if kind == "float":
        return _float(text)
    return text  # str, and timestamps kept as written


def _int(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        return int(text, 10)  # YAML 1.2 reads `017` as 17, where Python's base 0 refuses it


def _float(text: str) -> float:
    lowered = text.lower()
    if lowered in (".inf", "+.inf"):
        return math.inf
    if lowered == "-.inf":
        return -math.inf
    if lowered == ".nan":
        return math.nan
    return float(text)
