"""Problems gathered with their positions, instead of stopping at the first."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from orchestra.config.source import PathKey, SourceMap
from orchestra.errors import Problem

T = TypeVar("T")


class Collector:
    """Gathers problems with their positions instead of stopping at the first."""

    def __init__(self, source: SourceMap) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def add(self, path: PathKey, message: str, *, key: bool = False) -> None:
        where = self.source.locate_key(path) if key else self.source.locate(path)
        self.problems.append(Problem(where, dotted(path), message))

    def parse(self, path: PathKey, value: object, parser: Callable[[object], T]) -> T | None:
        try:
            return parser(value)
        except ValueError as exc:
            self.add(path, str(exc))
            return None


def dotted(path: Sequence[str | int]) -> str:
    """`services.web.args[2]`: keys joined by dots, list indexes in brackets."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def as_list(value: object) -> list[object]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]
