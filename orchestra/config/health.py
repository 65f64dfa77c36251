"""`readiness` and `liveness` blocks → `Check` values (DESIGN §2.4).

Exactly one kind per block; the target of each kind is parsed here (a TCP address, an http(s)
URL, an exec command, a regular expression that compiles), and the timing options are durations.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from orchestra.config.collector import Collector, as_list
from orchestra.config.model import SHELL, CheckKind
from orchestra.config.model_parts import Check
from orchestra.config.source import PathKey
from orchestra.config.values import parse_duration, parse_host_port, parse_port

CHECK_KINDS = tuple(k.value for k in CheckKind)


def build_check(value: object, path: PathKey, problems: Collector) -> Check | None:
    """A `readiness`/`liveness` block → `Check`; None (with problems added) if it is wrong."""
    if not isinstance(value, dict):
        return None
    kinds = [k for k in CHECK_KINDS if k in value]
    if len(kinds) != 1:
        problems.add(path, "needs exactly one of " + ", ".join(CHECK_KINDS)
                          + f" (got {', '.join(kinds) or 'none'})")
        return None
    kind = CheckKind(kinds[0])
    fields = _check_target(kind, value[kind.value], (*path, kind.value), problems)
    timing: dict[str, float] = {}
    for key in ("interval", "timeout", "start_period"):
        if key in value:
            parsed = problems.parse((*path, key), value[key], parse_duration)
            if parsed == 0 and key != "start_period":   # 0 would poll without pause
                problems.add((*path, key), f"{key} must be greater than 0")
            elif parsed is not None:
                timing[key] = parsed
    if fields is None:
        return None
    retries = value.get("retries")
    return Check(kind=kind, retries=retries if isinstance(retries, int) else None,
                 **fields, **timing)  # type: ignore[arg-type]

def _check_target(kind: CheckKind, target: object, path: PathKey,
                  problems: Collector) -> dict[str, object] | None:
    match kind:
        case CheckKind.TCP:
            parsed = problems.parse(path, target, parse_host_port)
            return None if parsed is None else {"host": parsed[0], "port": parsed[1]}
        case CheckKind.HTTP:
            return {"url": target} if _valid_url(target, path, problems) else None
        case CheckKind.EXEC:
            if isinstance(target, str) and target and not target.strip():
                problems.add(path, "exec is blank: the check would always pass")
                return None
            if isinstance(target, list) and target and not str(target[0]).strip():
                problems.add((*path, 0), "the program must not be empty")
                return None
            if isinstance(target, str):
                return {"argv": (SHELL, "-c", target)}
            return {"argv": tuple(str(a) for a in as_list(target))}
        case CheckKind.LOG:
            try:
                re.compile(str(target))
            except re.error as exc:
                problems.add(path, f"invalid regular expression '{target}': {exc}")
                return None
            return {"pattern": str(target)}
        case CheckKind.NOTIFY:
            return {}

def _valid_url(target: object, path: PathKey, problems: Collector) -> bool:
    text = str(target)
    if any(c.isspace() or not c.isprintable() for c in text):
        problems.add(path, f"invalid URL {text!r}: spaces and control characters must be "
                           "percent-encoded (%20)")
        return False
    try:
        parts = urlsplit(text)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        if ok and parts.port is not None:
            parse_port(parts.port)
    except ValueError:
        ok = False
    if not ok:
        problems.add(path, f"invalid URL '{target}' (expected http://HOST[:PORT]/PATH)")
    return ok
