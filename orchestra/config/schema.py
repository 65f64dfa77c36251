"""Check the shape of a loaded orchestra.yaml against its JSON Schema, reporting every problem.

The schema (shipped as package data and usable by editors) is the single source of truth for
shape. This module only turns jsonschema's errors into messages a user can act on: one problem
per place, each with file:line:column from the source map, a dotted field path and the bad value
quoted (capped, so a huge value never floods the terminal). jsonschema's own messages are never
shown: for `oneOf` they list whole sub-schemas, and they print values with Python's repr.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Protocol

from orchestra.config.collector import dotted
from orchestra.config.quickschema import is_valid
from orchestra.config.schema_file import load_schema
from orchestra.config.schema_messages import FieldPath as Path
from orchestra.config.schema_messages import explain
from orchestra.errors import Location, Problem

__all__ = ["dotted", "load_schema", "validate"]


class SourceMap(Protocol):
    """What validation needs from `orchestra.config.source.SourceMap`."""

    def locate(self, path: Sequence[str | int]) -> Location: ...

    def locate_key(self, path: Sequence[str | int]) -> Location: ...


@functools.cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator  # only for a document with problems

    return Draft202012Validator(load_schema())


def validate(data: object, source: SourceMap) -> list[Problem]:
    """Every shape problem of `data` (a loaded orchestra.yaml), sorted by position.

    A valid document is recognised by `config/quickschema.py`, without importing jsonschema.
    """
    if is_valid(data, load_schema()):
        return []
    best: dict[tuple[Path, bool], tuple[int, str]] = {}
    for error in _validator().iter_errors(data):
        for path, at_key, message, rank in explain(error):
            place = (path, at_key)
            if place not in best or rank < best[place][0]:
                best[place] = (rank, message)
    problems = []
    for (path, at_key), (_, message) in _one_message_per_mistake(best).items():
        found = source.locate_key(path) if at_key else source.locate(path)
        problems.append(Problem(found, dotted(path), message))
    problems.sort(key=lambda p: (p.location.file, p.location.line or 0, p.location.column or 0,
                                 p.field, p.message))
    return problems


def _one_message_per_mistake(
        best: dict[tuple[Path, bool], tuple[int, str]]) -> dict[tuple[Path, bool], tuple[int, str]]:
    """One typo is one message: `service:` gives "unknown key 'service' (did you mean
    'services'?)" without also "missing required key 'services'", and a block whose one wrong
    key is named ("notify is a readiness check only") is not also said to have no check."""
    said = {path: message for (path, _), (_, message) in best.items()}
    kept = {}
    for (path, at_key), (rank, message) in best.items():
        if message.startswith("missing required key '") and message.count("'") == 2:
            wanted = message.split("'")[1]
            if any(p[:-1] == path and f"did you mean '{wanted}'" in m for p, m in said.items()):
                continue
        if message.endswith("(got none)") and any(
                len(p) > len(path) and p[:len(path)] == path for p in said):
            continue
        kept[(path, at_key)] = (rank, message)
    return kept
