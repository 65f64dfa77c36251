"""Where each service listens, as environment variables for whoever needs to reach it.

One naming rule for two readers: every service gets `DB_HOST`/`DB_PORT` for each service it
depends on (set by the plan), and `run --with db -- CMD` gives its command the same for the
services it started. A name becomes upper case with `-` and `.` turned into `_`; an instance
of several (`web.2`) has its own `WEB_2_PORT`, and `WEB_PORT` is the first instance's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from orchestra.config.model import DISCOVERY_HOST, Service, Spec


class Addressed(Protocol):
    """What discovery needs of a plan's instance."""

    @property
    def name(self) -> str: ...                # "db", or "web.2"

    @property
    def port(self) -> int | None: ...

    @property
    def service_name(self) -> str: ...


def variable(name: str, suffix: str) -> str:
    """`my-db` → `MY_DB_PORT`; `web.2` → `WEB_2_PORT`."""
    return name.upper().replace("-", "_").replace(".", "_") + "_" + suffix


def discovery_env(instances: Iterable[Addressed]) -> dict[str, str]:
    """`DB_HOST` and `DB_PORT` for every instance with a port (and its service's, for the
    first instance of each service)."""
    env: dict[str, str] = {}
    for instance in instances:
        if instance.port is None:
            continue
        for name in (instance.name, instance.service_name):
            env.setdefault(variable(name, "HOST"), DISCOVERY_HOST)
            env.setdefault(variable(name, "PORT"), str(instance.port))
    return env


class _Listed:
    """An instance as the model knows it, before there is a plan (for `orchestra config`)."""

    def __init__(self, name: str, port: int | None, service_name: str) -> None:
        self.name, self.port, self.service_name = name, port, service_name


def dependency_addresses(spec: Spec, service: Service) -> dict[str, str]:
    """The variables `service` gets for its dependencies, from the model alone (the
    replicas as declared, the ports from `port:`), as the plan gives them."""
    listed: list[_Listed] = []
    for dependency in service.depends_on:
        if dependency.service not in spec.names():
            continue
        target = spec.service(dependency.service)
        count = target.replicas
        for number in range(1, count + 1):
            port = (target.auto_ports[number - 1] if number <= len(target.auto_ports)
                    else None if target.auto_ports or target.port is None
                    else target.port + number - 1)
            name = target.name if count == 1 else f"{target.name}.{number}"
            listed.append(_Listed(name, port, target.name))
    return discovery_env(listed)
