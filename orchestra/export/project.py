"""The plan `up` would run, as plain data for the export formats.

Every format reads only this: per service, its instances' argv and environment (values
written in orchestra.yaml apart from values that came from `.env` files, since targets keep
the latter in files of their own), its working directory on the target, its checks, restart
policy, stop settings and dependencies. Paths are mapped from where the project is here to
`--root`, where it lives on the target.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from orchestra.config.model import DEFAULT_STOP_TIMEOUT, Condition, RestartPolicy, frozen_env
from orchestra.config.model_parts import Check, Dependency
from orchestra.plan import Instance, Plan


class ExportError(Exception):
    """A project that a format cannot carry exactly (the CLI reports it as a usage error)."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where and how the exported files will be used: the command line's export options."""

    app: str                              # -a/--app: names the group, the job, the target
    root: PurePosixPath                   # --root: the project folder on the target
    user: str | None = None               # -u/--user
    log_dir: PurePosixPath | None = None  # -l/--log
    image: str | None = None              # --image (compose, kubernetes)
    user_units: bool = False              # --user-units (systemd)


@dataclass(frozen=True, slots=True)
class ExportInstance:
    """One process: `web`, or `web.2` of a service with replicas."""

    name: str
    number: int
    argv: tuple[str, ...]
    env: Mapping[str, str]       # written in orchestra.yaml, or set by orchestra (PORT, PS…)
    secrets: Mapping[str, str]   # from `.env` files
    port: int | None


@dataclass(frozen=True, slots=True)
class ExportService:
    """One service with its instances, in the terms every format needs."""

    name: str
    cwd: PurePosixPath
    instances: tuple[ExportInstance, ...]
    depends_on: tuple[Dependency, ...]
    readiness: Check | None
    liveness: Check | None
    restart: RestartPolicy
    stop_signal: str                  # "SIGTERM", "SIGRTMIN+2"
    stop_timeout: float
    port: int | None                  # the first instance's
    one_shot: bool                    # a dependent waits for it to complete successfully
    tty: bool = False                 # `tty: true`: compose and Kubernetes give it a terminal

    def same_but_ps(self) -> bool:
        """Whether the instances differ only in `PS`, so a target may run them as replicas
        of one program (a target cannot give each replica its own `PS`)."""
        first = self.instances[0]
        return all(i.argv == first.argv and i.secrets == first.secrets
                   and _without_ps(i.env) == _without_ps(first.env) for i in self.instances)


@dataclass(frozen=True, slots=True)
class ExportProject:
    target: Target
    services: tuple[ExportService, ...]     # dependencies first

    def service(self, name: str) -> ExportService:
        return next(s for s in self.services if s.name == name)

    def has_secrets(self) -> bool:
        return any(i.secrets for s in self.services for i in s.instances)


def _without_ps(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k != "PS"}


def target_signal_name(number: int) -> str:
    """`SIGTERM`; a real-time signal as `SIGRTMIN+N`, the spelling systemd and docker accept."""
    rtmin = int(getattr(signal, "SIGRTMIN", 0))   # macOS and the BSDs have none
    if rtmin and rtmin <= number <= int(getattr(signal, "SIGRTMAX", 0)):
        return "SIGRTMIN" if number == rtmin else f"SIGRTMIN+{number - rtmin}"
    return signal.Signals(number).name


def export_project(plan: Plan, target: Target) -> ExportProject:
    """The plan, with local paths moved to `target.root` and env values split by origin."""
    one_shots = {d.service for name in plan.order for d in plan.spec.service(name).depends_on
                 if d.condition is Condition.COMPLETED_SUCCESSFULLY}
    services = []
    for name in plan.order:
        instances = [i for i in plan.instances if i.service.name == name]
        if not instances:  # `-c web=0`: nothing of it runs, and nothing waits for it
            continue
        service = plan.spec.service(name)
        services.append(ExportService(
            name=name,
            cwd=_on_target(service.run_dir, plan.spec.root, target.root),
            instances=tuple(_instance(i, plan.spec.root, target.root) for i in instances),
            depends_on=service.depends_on,
            readiness=service.readiness,
            liveness=service.liveness,
            restart=service.restart,
            stop_signal=target_signal_name(service.stop_signal),
            stop_timeout=(DEFAULT_STOP_TIMEOUT if service.stop_timeout is None
                          else service.stop_timeout),
            port=instances[0].port,
            one_shot=name in one_shots,
            tty=service.tty,
        ))
    if not services:
        raise ExportError("nothing to export: every selected service has 0 instances (-c)")
    kept = {s.name for s in services}
    for exported in services:
        for dep in exported.depends_on:
            if dep.service not in kept:
                raise ExportError(f"{exported.name} depends on {dep.service}, which has no "
                                  "instance in this export (-c)")
    return ExportProject(target, tuple(services))


def _instance(instance: Instance, root: str, target_root: PurePosixPath) -> ExportInstance:
    secret_keys = instance.service.secret_keys
    env = dict(instance.env)
    env["PWD"] = str(_on_target(instance.service.run_dir, root, target_root))
    return ExportInstance(
        name=instance.name,
        number=instance.number,
        argv=instance.service.argv,
        env=frozen_env({k: v for k, v in env.items() if k not in secret_keys}),
        secrets=frozen_env({k: v for k, v in env.items() if k in secret_keys}),
        port=instance.port,
    )


def _on_target(path: str, root: str, target_root: PurePosixPath) -> PurePosixPath:
    """A folder of the project, where it will be on the target; one outside stays as it is."""
    try:
        return target_root / PurePosixPath(Path(path).relative_to(root).as_posix())
    except ValueError:
        return PurePosixPath(path)


@dataclass(frozen=True, slots=True)
class ExportFile:
    """One file to write into DIR; `secret` files hold `.env` values and are written 0600."""

    name: str
    text: str
    secret: bool = False
