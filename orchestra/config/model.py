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
from types import MappingProxyType
from typing import TYPE_CHECKING

from orchestra.errors import Location

if TYPE_CHECKING:   # made only by an orchestra.yaml that declares them: config/model_parts.py
    from orchestra.config.model_parts import Check, Dependency, Watch

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
class RestartPolicy:
    """`restart:` — whether a service that ended is started again, how often, how soon."""

    mode: RestartMode = RestartMode.NO
    max_restarts: int | None = None  # None: unlimited
    backoff: float = 1.0


def frozen_env(values: Mapping[str, str] | None = None) -> Mapping[str, str]:
    """A read-only copy, so a built model cannot be mutated through its env."""
    return MappingProxyType(dict(values or {}))


@dataclass(frozen=True, slots=True)
class Service:
    """One service as declared (before replicas are expanded into instances by the plan)."""

    name: str
    argv: tuple[str, ...]
    shell: bool                      # argv is ["/bin/sh", "-c", <the user's string>]
    dir: str                         # working directory, absolute (orchestra/pathnames.py)
    run_dir: str                     # dir/entrypoint: where the process runs
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

    path: str                        # absolute, as every path in the model
    kind: SourceKind
    root: str                        # the folder relative paths resolve against
    services: tuple[Service, ...]
    env: Mapping[str, str] = field(default_factory=frozen_env)  # project level: env files + env
    secret_keys: frozenset[str] = frozenset()   # keys of `env` whose values came from env files
    layers: tuple[str, ...] = ()    # every config file merged, in order, when there are several

    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.services)

    def service(self, name: str) -> Service:
        for svc in self.services:
            if svc.name == name:
                return svc
        raise KeyError(name)
