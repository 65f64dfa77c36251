"""The resolved, immutable model of a project: what `check` validates and `up` runs.

Everything here is already parsed: durations are seconds, signals are `signal.Signals`, the
command is one argv, paths are absolute and the environment is layered. Nothing downstream
re-reads raw config, so there is exactly one place (`config.build`) where meaning is assigned.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

from orchestra.errors import Location

#: String commands, Procfile lines and string exec checks run as [SHELL, "-c", string].
SHELL = "/bin/sh"
DEFAULT_STOP_TIMEOUT = 10.0
#: foreman's rule: each process type's ports start 100 above the previous type's.
PORT_STEP = 100
DEFAULT_NAMESPACE = "default"
#: Where a dependent finds a service: `DB_HOST`, `${services.db.host}`; `port: auto` binds here.
DISCOVERY_HOST = "127.0.0.1"


class SourceKind(StrEnum):
    YAML = "yaml"
    PROCFILE = "procfile"


class Condition(StrEnum):
    """When a dependent may start, relative to its dependency."""

    STARTED = "started"
    READY = "ready"
    COMPLETED_SUCCESSFULLY = "completed_successfully"


CONDITION_ALIASES: Mapping[str, Condition] = MappingProxyType({
    "started": Condition.STARTED,
    "ready": Condition.READY,
    "healthy": Condition.READY,
    "completed_successfully": Condition.COMPLETED_SUCCESSFULLY,
    # docker compose spellings
    "service_started": Condition.STARTED,
    "service_healthy": Condition.READY,
    "service_completed_successfully": Condition.COMPLETED_SUCCESSFULLY,
})


class RestartMode(StrEnum):
    NO = "no"
    ON_FAILURE = "on-failure"
    ALWAYS = "always"


class WatchAction(StrEnum):
    """What a change under a service's `watch` paths does to it."""

    RESTART = "restart"
    SIGNAL = "signal"


class CheckKind(StrEnum):
    TCP = "tcp"
    HTTP = "http"
    EXEC = "exec"
    LOG = "log"
    NOTIFY = "notify"


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


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """`restart:` — whether a service that ended is started again, how often, how soon."""

    mode: RestartMode = RestartMode.NO
    max_restarts: int | None = None  # None: unlimited
    backoff: float = 1.0


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


def frozen_env(values: Mapping[str, str] | None = None) -> Mapping[str, str]:
    """A read-only copy, so a built model cannot be mutated through its env."""
    return MappingProxyType(dict(values or {}))


@dataclass(frozen=True, slots=True)
class Service:
    """One service as declared (before replicas are expanded into instances by the plan)."""

    name: str
    argv: tuple[str, ...]
    shell: bool                      # argv is ["/bin/sh", "-c", <the user's string>]
    dir: Path                        # working directory, absolute
    run_dir: Path                    # dir/entrypoint: where the process runs
    entrypoint: str | None = None
    env: Mapping[str, str] = field(default_factory=frozen_env)
    secret_keys: frozenset[str] = frozenset()   # keys whose values came from env files
    namespace: str = DEFAULT_NAMESPACE
    depends_on: tuple[Dependency, ...] = ()
    readiness: Check | None = None
    liveness: Check | None = None
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    stop_signal: int = signal.SIGTERM   # a number: real-time signals have no enum name
    stop_timeout: float | None = None   # None: the default, or `-t/--timeout`
    replicas: int = 1
    port: int | None = None          # instance 1's; `port: auto`: the first of auto_ports
    auto_ports: tuple[int, ...] = ()  # `port: auto`: the port picked for each instance
    disabled: bool = False
    profiles: tuple[str, ...] = ()   # started only when one is active (or when named)
    watch: Watch | None = None       # restart (or signal) it when these files change
    tty: bool = False                # runs on a pseudo-terminal of its own (`orchestra attach`)
    location: Location = field(default_factory=lambda: Location("<unknown>"))
    # The settings use ${PORT} or ${PS}, which have another value in each instance; then
    # `instances` holds instances 2..replicas as built from their own values.
    varies_by_instance: bool = False
    instances: tuple[Service, ...] = ()


@dataclass(frozen=True, slots=True)
class Spec:
    """A whole project: where it came from and its services in file order."""

    path: Path
    kind: SourceKind
    root: Path                       # the folder relative paths resolve against
    services: tuple[Service, ...]
    env: Mapping[str, str] = field(default_factory=frozen_env)  # project level: env files + env
    secret_keys: frozenset[str] = frozenset()   # keys of `env` whose values came from env files
    layers: tuple[Path, ...] = ()    # every config file merged, in order, when there are several

    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.services)

    def service(self, name: str) -> Service:
        for svc in self.services:
            if svc.name == name:
                return svc
        raise KeyError(name)
