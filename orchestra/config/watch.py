"""`watch:` → a `Watch` value: the paths a service's restarts follow, checked when the config is
read (a path that does not exist is a mistake the user should hear about now, not a watcher
that silently never fires).

Short form: a path or a list of paths. Long form: `{paths, ignore, debounce, action, signal}`.
Paths are relative to the service's `dir`.
"""

from __future__ import annotations

import signal
from pathlib import Path

from orchestra.config.collector import Collector, as_list
from orchestra.config.model import WatchAction
from orchestra.config.model_parts import DEFAULT_WATCH_DEBOUNCE, Watch
from orchestra.config.source import PathKey
from orchestra.config.values import parse_duration, parse_signal

ACTIONS = tuple(a.value for a in WatchAction)


def build_watch(value: object, path: PathKey, directory: Path,
                problems: Collector) -> Watch | None:
    """The service's `Watch`, or None (with problems added when the value is wrong)."""
    if value is None:
        return None
    options = value if isinstance(value, dict) else {"paths": value}
    paths_path = path if options is not value else (*path, "paths")
    paths = _paths(options.get("paths"), paths_path, directory, problems)
    debounce: float | None = DEFAULT_WATCH_DEBOUNCE
    if "debounce" in options:
        debounce = problems.parse((*path, "debounce"), options["debounce"], parse_duration)
    action_text = str(options.get("action", WatchAction.RESTART.value))
    if action_text not in ACTIONS:   # the schema says so first; kept for data built otherwise
        problems.add((*path, "action"), f"invalid action '{action_text}' (expected "
                     + " or ".join(ACTIONS) + ")")
        return None
    action = WatchAction(action_text)
    signum = int(signal.SIGHUP)
    if "signal" in options:
        if action is not WatchAction.SIGNAL:
            problems.add((*path, "signal"), "a signal is sent only with `action: signal` "
                         "(this watch restarts the service)", key=True)
            return None
        parsed = problems.parse((*path, "signal"), options["signal"], parse_signal)
        if parsed is None:
            return None
        signum = parsed
    if paths is None or debounce is None:
        return None
    ignore = tuple(str(p) for p in as_list(options.get("ignore")))
    return Watch(paths, ignore, debounce, action, signum)


def _paths(value: object, path: PathKey, directory: Path,
           problems: Collector) -> tuple[Path, ...] | None:
    """Each path resolved against `directory`; None if one of them does not exist."""
    found: list[Path] = []
    missing = False
    items = as_list(value)
    for index, item in enumerate(items):
        where = (*path, index) if isinstance(value, list) else path
        resolved = (directory / str(item)).resolve()
        if not resolved.exists():
            problems.add(where, f"watch path '{item}' does not exist ({resolved})")
            missing = True
        found.append(resolved)
    if not items:
        problems.add(path, "watch needs at least one path")
        return None
    return None if missing else tuple(found)
