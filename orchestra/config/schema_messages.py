"""One jsonschema error → the findings a user can act on: path, at the key or the value, the
message, and a rank (lower wins when one place has several).

jsonschema's own messages are never shown: for `oneOf` they list whole sub-schemas, and they
print values with Python's repr. These say what was expected, in the user's terms, with the
bad value quoted (capped) and a did-you-mean for an unknown key.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from orchestra.config.schema_file import load_schema

MAX_SHOWN = 60  # characters of a quoted value in a message

FieldPath = tuple[str | int, ...]
# (path, at the key rather than the value, message, rank: lower wins when a place has several)
Finding = tuple[FieldPath, bool, str, int]

def explain(error: Any) -> Iterator[Finding]:
    path: FieldPath = tuple(error.absolute_path)
    kind: str = error.validator
    if "propertyNames" in error.absolute_schema_path:
        name = str(error.instance)
        yield (*path, name), True, _invalid(_title(error), name, path), 1
    elif kind == "additionalProperties":
        yield from _unknown_keys(error, path)
    elif kind in ("oneOf", "anyOf"):
        yield from _alternatives(error, path)
    elif kind == "type":
        # an empty value (`web:`) has no text of its own to point at; its key has
        yield path, error.instance is None, _wrong_type(error.schema, error.instance, path), 0
    elif kind in ("enum", "pattern"):
        yield path, False, _invalid(_title(error), error.instance, path), 1
    else:
        yield path, False, _other(kind, error, path), 1


def _alternatives(error: Any, path: FieldPath) -> Iterator[Finding]:
    """A value matching none (or several) of a list of shapes: say which shape was meant."""
    title = error.schema.get("title")
    instance = error.instance
    if title in ("readiness", "liveness"):
        if isinstance(instance, dict):
            kinds = [branch["required"][0] for branch in error.schema["oneOf"]]
            got = ", ".join(k for k in kinds if k in instance) or "none"
            message = f"{_label(path)} needs exactly one of {', '.join(kinds)} (got {got})"
            yield path, False, message, 1
        return
    if title == "duration":
        yield path, False, _invalid("duration", instance, path), 1
        return
    if title == "port":   # a number out of range is told so; anything else is the wrong type
        if isinstance(instance, int) and not isinstance(instance, bool):
            for sub in error.context or ():
                if sub.relative_schema_path[0] == 0:
                    yield from explain(sub)
            return
        yield path, instance is None, \
            f"expected an integer 1-65535 or 'auto', got {_show(instance)}", 0
        return
    branches: dict[int, list[Any]] = {}
    for sub in error.context or ():
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    fitting = [
        errors
        for errors in branches.values()
        if not any(e.validator == "type" and not e.relative_path for e in errors)
    ]
    if len(fitting) == 1 and len(branches) == len(error.schema[error.validator]):
        for sub in fitting[0]:
            yield from explain(sub)
        return
    yield path, instance is None, _wrong_type(error.schema, instance, path), 0


def _unknown_keys(error: Any, path: FieldPath) -> Iterator[Finding]:
    schema = error.schema
    allowed = list(schema.get("properties", {}))
    patterns = list(schema.get("patternProperties", {}))
    for key in error.instance:
        if key in allowed or any(re.search(p, key) for p in patterns):
            continue
        if key == "notify" and schema.get("title") == "liveness":
            message = "notify is a readiness check only (liveness takes tcp, http, exec or log)"
        else:
            message = f"unknown key {_show(key)}{_suggest(key, allowed)}"
        yield (*path, key), True, message, 1


#: Spellings from docker compose and process-compose, mapped to ours.
_KNOWN_SPELLINGS = {
    "environment": "env",
    "env_files": "env_file",
    "working_dir": "dir",
    "workdir": "dir",
    "cwd": "dir",
    "healthcheck": "readiness",
    "readiness_probe": "readiness",
    "liveness_probe": "liveness",
    "availability": "restart",
    "scale": "replicas",
    "shutdown": "stop_signal",
    "depends": "depends_on",
    "processes": "services",
    "stop_grace_period": "stop_timeout",
    "deploy": "replicas",
    "ready_log_line": "readiness",
    "develop": "watch",
    "period_seconds": "interval",
    "failure_threshold": "retries",
    "initial_delay_seconds": "start_period",
    "timeout_seconds": "timeout",
    "http_get": "http",
    "backoff_seconds": "backoff",
}


def _suggest(key: str, allowed: list[str]) -> str:
    import difflib  # only for a message: a valid document never needs it

    known = _KNOWN_SPELLINGS.get(key)
    close = [known] if known in allowed else difflib.get_close_matches(key, allowed, n=1)
    if close:
        return f" (did you mean '{close[0]}'?)"
    return f" (expected one of {', '.join(allowed)}; x-* keys are ignored)"


# --- messages --------------------------------------------------------------------------------

#: Nouns and hints for values that have the right type but not an accepted form.
_FORMS = {
    "duration": "expected a number of seconds or e.g. 500ms, 10s, 2m",
    "condition": "expected started, ready, completed_successfully, or the aliases healthy, "
    "service_started, service_healthy, service_completed_successfully",
    "restart policy": "expected no, on-failure, always, unless-stopped",
    "watch action": "expected restart or signal",
    "tcp address": "expected PORT or HOST:PORT",
    "profile": "use letters, digits, '_', '.' and '-', starting with a letter or digit",
    "URL": "expected http://... or https://...",
    "signal": "expected a name such as SIGTERM or TERM, or a number 1-64",
    "variable name": "must not be empty or contain '='",
}
_NAME_RULE = "use letters, digits, '_' and '-', starting with a letter or digit"


def _invalid(title: str | None, value: object, path: FieldPath) -> str:
    if title == "name":
        noun = "namespace" if path and path[-1] == "namespace" else "service name"
        hint = _NAME_RULE + ("" if noun == "namespace" else "; '.' is reserved for instances")
        return f"invalid {noun} {_show(value)} ({hint})"
    if title in _FORMS:
        return f"invalid {title} {_show(value)} ({_FORMS[title]})"
    return f"invalid value {_show(value)}"


def _wrong_type(schema: Mapping[str, Any], value: object, path: FieldPath) -> str:
    if not path:
        return f"expected a mapping with a 'services' key, got {_show(value)}"
    return f"expected {_describe(schema)}, got {_show(value)}"


def _other(kind: str, error: Any, path: FieldPath) -> str:
    label = _title(error, walk=False) or _label(path)
    value, limit = error.instance, error.validator_value
    schema = error.schema
    if kind in ("minimum", "maximum") and "minimum" in schema and "maximum" in schema:
        return f"{label} {_show(value)} is out of range {schema['minimum']}-{schema['maximum']}"
    if kind == "minimum":
        return f"{label} must be at least {limit}, got {_show(value)}"
    if kind == "required":
        missing = [k for k in limit if k not in value]
        return "missing required key " + ", ".join(f"'{k}'" for k in missing)
    if kind == "const":
        if path == ("version",):
            if isinstance(value, str) and value.strip() in ("1", "1.0"):
                return (f"version is the number 1, not the string {_show(value)} "
                        "(write `version: 1`, unquoted)")
            return f"unsupported version {_show(value)} (expected 1)"
        return f"{label} must be {_show(limit)}, got {_show(value)}"
    if kind == "minLength":
        return f"{_label(path)} must not be empty"
    if kind == "minItems":
        return f"{_label(path)} must not be an empty list"
    if kind == "minProperties":
        if path == ("services",):
            return "name at least one service (there is nothing to run)"
        return f"{_label(path)} must not be empty"
    if kind == "uniqueItems":
        repeated = next((v for i, v in enumerate(value) if v in value[:i]), value)
        return f"{_show(repeated)} is listed more than once"
    return f"invalid value {_show(value)}"


def _title(error: Any, *, walk: bool = True) -> str | None:
    """The schema title naming the kind of value (tcp address, duration, ...).

    With `walk`, an untitled branch of a `oneOf` takes the title of the `oneOf` itself, so a
    bad string under `tcp` is called an invalid tcp address.
    """
    while error is not None:
        title = error.schema.get("title") if isinstance(error.schema, dict) else None
        if isinstance(title, str) or not walk:
            return title if isinstance(title, str) else None
        error = error.parent
    return None


def _label(path: FieldPath) -> str:
    return next((p for p in reversed(path) if isinstance(p, str)), "value")


def _show(value: object) -> str:
    """A value as the user wrote it in YAML, capped so a huge one cannot flood the output."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, str):
        short = value if len(value) <= MAX_SHOWN - 2 else value[: MAX_SHOWN - 5] + "..."
        return "'" + short.replace("\n", "\\n") + "'"
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


#: How a shape with a title is described in "expected ..." messages.
_SHAPES = {
    "restart": ("a policy (no, on-failure, always, unless-stopped) or a mapping with policy, "
                "max_restarts, backoff"),
    "depends_on": "a list of service names or a mapping of name to {condition: ...}",
    "tcp address": "a port number or a string PORT or HOST:PORT",
    "signal": "a signal name such as SIGTERM, or a number 1-64",
    "readiness": "a mapping with one of tcp, http, exec, log, notify",
    "liveness": "a mapping with one of tcp, http, exec, log",
    "service": "a mapping of service settings",
}


def _describe(schema: Mapping[str, Any]) -> str:
    """'a string or a list of strings': the accepted shapes of a schema, in words."""
    schema = _resolve(schema)
    title = schema.get("title")
    if title in _SHAPES:
        return _SHAPES[title]
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return _join_or([_describe(branch) for branch in schema[key]])
    if "const" in schema:
        return _show(schema["const"])
    kinds = schema.get("type", [])
    if isinstance(kinds, str):
        return _describe_type(kinds, schema)
    return (
        _join_or(
            [_describe_type(kind, schema).replace("true or false", "a boolean") for kind in kinds]
        )
        or "something else"
    )


def _describe_type(kind: str, schema: Mapping[str, Any]) -> str:
    if kind == "array":
        items = _resolve(schema.get("items", {}))
        return "a list of strings" if items.get("type") == "string" else "a list"
    if kind == "integer" and "minimum" in schema and "maximum" in schema:
        return f"an integer {schema['minimum']}-{schema['maximum']}"
    if kind in ("integer", "number") and "minimum" in schema:
        return f"{'an integer' if kind == 'integer' else 'a number'} >= {schema['minimum']}"
    words = {
        "string": "a string",
        "object": "a mapping",
        "integer": "an integer",
        "number": "a number",
        "boolean": "true or false",
        "null": "null",
    }
    return words.get(kind, kind)


def _resolve(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow a local `$ref` (the schema only uses `#/$defs/...`)."""
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        resolved: Mapping[str, Any] = load_schema()["$defs"][ref.removeprefix("#/$defs/")]
        return resolved
    return schema


def _join_or(parts: list[str]) -> str:
    unique = list(dict.fromkeys(parts))
    if len(unique) <= 1:
        return "".join(unique)
    return ", ".join(unique[:-1]) + " or " + unique[-1]
