"""The parts of a service's model that only an orchestra.yaml can declare: its dependencies
(`depends_on`), its readiness and liveness checks, and what it watches (`watch`).

They are frozen dataclasses like the rest of the model (`config/model.py`, whose `Service`
holds them), kept in a module of their own because a Procfile project has none of them:
Python 3.11 compiles six methods for each frozen dataclass as its module is imported
(~0.4–0.6 ms a class), and `up` of a Procfile does not import this module at all. Modules on
that path name these classes in annotations only; what builds them (`config/relations.py`,
`config/health.py`, `config/watch.py`) or inspects them imports them from here.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from pathlib import Path

from orchestra.config.model import CheckKind, Condition, WatchAction
from orchestra.errors import Location


@dataclass(frozen=True, slots=True)
class Dependency:
    """One `depends_on` entry: the service waited for and what it must reach first."""

    service: str
    condition: Condition = Condition.STARTED
    # compose's `restart: true`: when the dependency is restarted because its files changed,
    # this service is restarted after it (and waits for its condition again)
    restart: bool = False
    # Where the dependency is named, so a check can point at that line rather than the service.
    location: Location | None = field(default=None, compare=False)
    # Where its condition is written: with layered files, maybe another file than the name.
    condition_location: Location | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Check:
    """One readiness or liveness check; exactly one of the kind-specific fields is set."""

    kind: CheckKind
    host: str | None = None          # tcp
    port: int | None = None          # tcp
    url: str | None = None           # http
    argv: tuple[str, ...] = ()       # exec
    pattern: str | None = None       # log (a valid regular expression)
    interval: float = 1.0
    timeout: float = 1.0
    retries: int | None = None       # None: until start_period runs out
    start_period: float = 60.0

    def describe(self) -> str:
        """A short human description, used in readiness reasons."""
        match self.kind:
            case CheckKind.TCP:
                return f"tcp {self.host}:{self.port}"
            case CheckKind.HTTP:
                return f"http {_without_password(self.url or '')}"
            case CheckKind.EXEC:
                shell = len(self.argv) == 3 and self.argv[:2] == ("/bin/sh", "-c")
                return "exec " + _one_line(self.argv[2] if shell else " ".join(self.argv))
            case CheckKind.LOG:
                return f"log /{self.pattern}/"
            case CheckKind.NOTIFY:
                return "notify READY=1"


def _without_password(url: str) -> str:
    """A URL for a status line: `http://user:***@host/`, so no password lands in a log."""
    from urllib.parse import urlsplit  # only for URLs that carry credentials

    if "@" not in url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    login, _, place = parts.netloc.rpartition("@")
    user = login.split(":", 1)[0]
    return parts._replace(netloc=f"{user}:***@{place}").geturl()


def _one_line(text: str, limit: int = 80) -> str:
    """A multi-line script shown on one status line, shortened."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit - 3] + "..."


#: Ignored under every watched path, whatever `ignore` says: version control, caches,
#: dependencies, orchestra's own folder, and the swap and backup files editors write on save.
DEFAULT_WATCH_IGNORE = (".git", ".hg", ".svn", "__pycache__", "node_modules", ".orchestra",
                        "*.swp", "*.swo", "*.swx", "*~", ".#*", "#*#", "4913", ".DS_Store")
DEFAULT_WATCH_DEBOUNCE = 0.3


@dataclass(frozen=True, slots=True)
class Watch:
    """`watch:` — the files whose changes restart (or signal) a service."""

    paths: tuple[Path, ...]          # absolute; each one existed when the config was read
    ignore: tuple[str, ...] = ()     # the user's patterns (DEFAULT_WATCH_IGNORE always applies)
    debounce: float = DEFAULT_WATCH_DEBOUNCE   # quiet time after the last change, in seconds
    action: WatchAction = WatchAction.RESTART
    signal: int = signal.SIGHUP      # with action signal: sent to the service's process group
