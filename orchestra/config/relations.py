"""How a service relates to others and to its own end: `depends_on` and `restart`, built
from their checked data for `config/build.py`."""

from __future__ import annotations

from orchestra.config.collector import Collector
from orchestra.config.model import CONDITION_ALIASES, Condition, RestartMode, RestartPolicy
from orchestra.config.model_parts import Dependency
from orchestra.config.source import PathKey
from orchestra.config.values import parse_duration


def build_depends_on(value: object, path: PathKey,
                     problems: Collector) -> tuple[Dependency, ...]:
    """`depends_on` (a list of names, or a mapping of name to condition and restart)."""
    source = problems.source
    if isinstance(value, list):
        return tuple(Dependency(str(name), location=source.locate((*path, index)))
                     for index, name in enumerate(value))
    if not isinstance(value, dict):
        return ()
    deps = []
    for name, options in value.items():
        condition = Condition.STARTED
        restart = isinstance(options, dict) and options.get("restart") is True
        if isinstance(options, dict) and options.get("condition") is not None:
            text = str(options["condition"])
            if text in CONDITION_ALIASES:
                condition = CONDITION_ALIASES[text]
            else:
                problems.add((*path, name, "condition"), f"invalid condition '{text}'")
        has_condition = isinstance(options, dict) and "condition" in options
        deps.append(Dependency(
            str(name), condition, restart, source.locate_key((*path, name)),
            source.locate((*path, name, "condition")) if has_condition else None))
    return tuple(deps)


def build_restart(value: object, path: PathKey, problems: Collector) -> RestartPolicy | None:
    """`restart`: a policy, or a mapping of policy, max_restarts and backoff."""
    if value is None:
        return None
    if value is False:
        return RestartPolicy(RestartMode.NO)
    if isinstance(value, str):
        return RestartPolicy(_restart_mode(value))
    if not isinstance(value, dict):
        return None
    backoff: float | None = 1.0
    if "backoff" in value:   # 0 is allowed: restart at once
        backoff = problems.parse((*path, "backoff"), value["backoff"], parse_duration)
    policy = value.get("policy", "no")
    mode = RestartMode.NO if policy is False else _restart_mode(str(policy))
    max_restarts = value.get("max_restarts")
    return RestartPolicy(mode, max_restarts if isinstance(max_restarts, int) else None,
                         1.0 if backoff is None else backoff)


def _restart_mode(spelling: str) -> RestartMode:
    """compose's `unless-stopped` is `always` here: a restart policy never brings back a
    service stopped with `orchestra stop` (or at shutdown), which is all it adds to `always`
    for processes that do not outlive their orchestra."""
    return RestartMode.ALWAYS if spelling == "unless-stopped" else RestartMode(spelling)
