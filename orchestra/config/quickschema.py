"""Is this document valid against the schema? Answered without the jsonschema library.

Importing jsonschema (with referencing, rpds and attrs) costs more than loading, planning and
starting a small project together, and almost every config that `up` reads is valid. So the
loader asks this module first, and only a document it finds invalid goes to jsonschema
(`config/schema.py`), whose detailed errors become the messages the user reads.

It interprets exactly the keywords `orchestra.schema.json` uses, with JSON Schema's meaning
(a bool is not a number; 1.0 is an integer; `pattern` searches). A keyword it does not know makes
it answer "invalid", which only costs time: the full validator then decides. Tests check that
both validators agree on the schema's own test corpus and on generated documents.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

Schema = Mapping[str, Any]

#: Keywords that say nothing about validity.
_ANNOTATIONS = frozenset({"$schema", "$id", "title", "description", "$defs", "default",
                          "examples", "markdownDescription", "deprecated"})


class _Unknown(Exception):
    """A keyword this interpreter does not implement."""


def is_valid(data: object, schema: Schema) -> bool:
    """True only if `data` is valid against `schema` (the document root is `schema` too)."""
    try:
        return _valid(data, schema, schema)
    except _Unknown:
        return False


def _valid(data: object, schema: Schema | bool, root: Schema) -> bool:
    if isinstance(schema, bool):
        return schema
    for keyword, expected in schema.items():
        if keyword in _ANNOTATIONS:
            continue
        check = _KEYWORDS.get(keyword)
        if check is None:
            raise _Unknown(keyword)
        if not check(data, expected, schema, root):
            return False
    return True


def _is_number(data: object) -> bool:
    return isinstance(data, int | float) and not isinstance(data, bool)


_TYPES: dict[str, Callable[[object], bool]] = {
    "object": lambda d: isinstance(d, dict),
    "array": lambda d: isinstance(d, list),
    "string": lambda d: isinstance(d, str),
    "boolean": lambda d: isinstance(d, bool),
    "null": lambda d: d is None,
    "number": _is_number,
    "integer": lambda d: _is_number(d) and (isinstance(d, int) or float(d).is_integer()),  # type: ignore[arg-type]
}


def _type(data: object, expected: Any, schema: Schema, root: Schema) -> bool:
    names = expected if isinstance(expected, list) else [expected]
    return any(_TYPES[name](data) for name in names)


def _ref(data: object, expected: Any, schema: Schema, root: Schema) -> bool:
    if not isinstance(expected, str) or not expected.startswith("#/"):
        raise _Unknown(f"$ref {expected}")
    target: Any = root
    for part in expected[2:].split("/"):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    return _valid(data, target, root)


@functools.cache
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _properties(data: object, expected: Any, schema: Schema, root: Schema) -> bool:
    return not isinstance(data, dict) or all(
        _valid(data[key], sub, root) for key, sub in expected.items() if key in data)


def _pattern_properties(data: object, expected: Any, schema: Schema, root: Schema) -> bool:
    return not isinstance(data, dict) or all(
        _valid(value, sub, root) for key, value in data.items()
        for pattern, sub in expected.items() if _regex(pattern).search(key))


def _additional(data: object, expected: Any, schema: Schema, root: Schema) -> bool:
    if not isinstance(data, dict):
        return True
    named = schema.get("properties", {})
    patterns = [_regex(p) for p in schema.get("patternProperties", {})]
    return all(_valid(value, expected, root) for key, value in data.items()
               if key not in named and not any(p.search(key) for p in patterns))


def _equal(a: object, b: object) -> bool:
    """JSON equality: a bool never equals a number."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return a == b


def _unique(items: list[object]) -> bool:
    return all(not _equal(items[i], items[j])
               for i in range(len(items)) for j in range(i + 1, len(items)))


_KEYWORDS: dict[str, Callable[[object, Any, Schema, Schema], bool]] = {
    "type": _type,
    "$ref": _ref,
    "properties": _properties,
    "patternProperties": _pattern_properties,
    "additionalProperties": _additional,
    "required": lambda d, e, s, r: not isinstance(d, dict) or all(k in d for k in e),
    "propertyNames": lambda d, e, s, r: not isinstance(d, dict) or all(
        _valid(k, e, r) for k in d),
    "minProperties": lambda d, e, s, r: not isinstance(d, dict) or len(d) >= e,
    "items": lambda d, e, s, r: not isinstance(d, list) or all(_valid(x, e, r) for x in d),
    "minItems": lambda d, e, s, r: not isinstance(d, list) or len(d) >= e,
    "uniqueItems": lambda d, e, s, r: not isinstance(d, list) or not e or _unique(d),
    "oneOf": lambda d, e, s, r: sum(_valid(d, sub, r) for sub in e) == 1,
    "anyOf": lambda d, e, s, r: any(_valid(d, sub, r) for sub in e),
    "allOf": lambda d, e, s, r: all(_valid(d, sub, r) for sub in e),
    "not": lambda d, e, s, r: not _valid(d, e, r),
    "const": lambda d, e, s, r: _equal(d, e),
    "enum": lambda d, e, s, r: any(_equal(d, x) for x in e),
    "minimum": lambda d, e, s, r: not _is_number(d) or d >= e,
    "maximum": lambda d, e, s, r: not _is_number(d) or d <= e,
    "minLength": lambda d, e, s, r: not isinstance(d, str) or len(d) >= e,
    "maxLength": lambda d, e, s, r: not isinstance(d, str) or len(d) <= e,
    "pattern": lambda d, e, s, r: not isinstance(d, str) or _regex(e).search(d) is not None,
}
