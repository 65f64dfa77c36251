"""Nomad: one job, `APP.nomad.json`, in the JSON form `nomad job run -json` reads.

A group per service (`Count` for identical replicas), a `raw_exec` task running the same argv
in the same folder, `service` checks (Nomad's own provider) from tcp/http readiness, the
group's `restart` block from the restart policy, `KillTimeout`/`KillSignal`. A service that
others wait for until it completes runs as a `prestart` task in their groups: Nomad orders
tasks only within a group. Nomad has no env files, so `.env` values are inlined and the file
is written 0600. Nomad replaces `${...}` in args and env when it starts a task and has no
escape for it, so such a value is an export error rather than a silent change.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from urllib.parse import urlsplit

from orchestra.config.model import CheckKind, Condition, RestartMode
from orchestra.config.model_parts import Check
from orchestra.export.project import (
    ExportError,
    ExportFile,
    ExportInstance,
    ExportProject,
    ExportService,
)

SECOND = 1_000_000_000   # Nomad's durations are nanoseconds
DAY = 86400 * SECOND
PORT_LABEL = "main"


def render(project: ExportProject) -> list[ExportFile]:
    groups = []
    for service in project.services:
        if service.one_shot:
            continue   # a prestart task in each group that waits for it
        replicated = len(service.instances) > 1 and service.same_but_ps()
        for instance in service.instances[:1] if replicated else service.instances:
            name = service.name if replicated else instance.name
            count = len(service.instances) if replicated else 1
            groups.append(_group(project, service, instance, name, count))
    app = project.target.app
    job = {"Job": {"ID": app, "Name": app, "Type": "service", "Datacenters": ["*"],
                   "TaskGroups": groups}}
    return [ExportFile(f"{app}.nomad.json", json.dumps(job, indent=2, ensure_ascii=False) + "\n",
                       secret=project.has_secrets())]


def _group(project: ExportProject, service: ExportService, instance: ExportInstance,
           name: str, count: int) -> dict[str, object]:
    task = _task(project, service, instance, drop_ps=count > 1)
    prestart = [
        {**_task(project, dep, dep_instance, drop_ps=False),
         "Name": dep_instance.name, "Lifecycle": {"Hook": "prestart", "Sidecar": False}}
        for dep in _one_shot_dependencies(project, service)
        for dep_instance in dep.instances]
    group: dict[str, object] = {"Name": name, "Count": count, "Tasks": [*prestart, task],
                                **_restart(service)}
    port = _check_port(service.readiness, instance.port)
    if port is not None:
        group["Networks"] = [{"ReservedPorts": [{"Label": PORT_LABEL, "Value": port}]}]
        checks = [c for c in (_check(service.readiness, "readiness"),) if c is not None]
        task["Services"] = [{"Name": _service_name(project.target.app, name),
                             "PortLabel": PORT_LABEL, "Provider": "nomad", "Checks": checks}]
    return group


def _task(project: ExportProject, service: ExportService, instance: ExportInstance,
          drop_ps: bool) -> dict[str, object]:
    env = {**instance.env, **instance.secrets}
    notes = {}
    if drop_ps:
        del env["PS"]
        notes["orchestra.PS"] = "replicas share one environment: PS is not set"
    _check_no_interpolation(service.name, [*instance.argv, *env.values()])
    task: dict[str, object] = {
        "Name": service.name,
        "Driver": "raw_exec",
        "Config": {"command": instance.argv[0], "args": list(instance.argv[1:]),
                   "work_dir": str(service.cwd)},
        "Env": env,
        "KillTimeout": round(service.stop_timeout * SECOND),
        "KillSignal": service.stop_signal,
    }
    if project.target.user is not None:
        task["User"] = project.target.user
    for dep in service.depends_on:
        if dep.condition is not Condition.COMPLETED_SUCCESSFULLY:
            notes[f"orchestra.depends_on.{dep.service}"] = (
                f"{dep.condition.value}: Nomad does not order groups; not carried over")
    for label, check in (("readiness", service.readiness), ("liveness", service.liveness)):
        if check is not None and (label == "liveness" or _check(check, label) is None):
            notes[f"orchestra.{label}"] = f"{check.describe()}: not carried over"
    if service.tty:
        notes["orchestra.tty"] = "true: a raw_exec task has no terminal; not carried over"
    if notes:
        task["Meta"] = notes
    return task


def _one_shot_dependencies(project: ExportProject,
                           service: ExportService) -> list[ExportService]:
    """The one-shots this service waits for, and the one-shots those wait for, in order."""
    found: list[str] = []
    stack = [d.service for d in service.depends_on
             if d.condition is Condition.COMPLETED_SUCCESSFULLY]
    while stack:
        name = stack.pop()
        if name not in found:
            found.append(name)
            stack += [d.service for d in project.service(name).depends_on
                      if d.condition is Condition.COMPLETED_SUCCESSFULLY]
    return [s for s in project.services if s.name in found]


def _restart(service: ExportService) -> dict[str, object]:
    """Nomad restarts a service task whatever its exit; `no` fails the group instead."""
    policy = service.restart
    delay = round(policy.backoff * SECOND)
    if policy.mode is RestartMode.NO:
        return {"RestartPolicy": {"Attempts": 0, "Interval": DAY, "Delay": delay,
                                  "Mode": "fail"},
                "ReschedulePolicy": {"Attempts": 0, "Unlimited": False}}
    if policy.max_restarts is None:
        restart = {"Attempts": 1, "Interval": delay, "Delay": delay, "Mode": "delay"}
    else:
        attempts = policy.max_restarts
        restart = {"Attempts": attempts, "Interval": max(DAY, (attempts + 1) * delay),
                   "Delay": delay, "Mode": "fail"}
    return {"RestartPolicy": restart}


def _check_port(check: Check | None, port: int | None) -> int | None:
    if port is not None:
        return port
    if check is not None and check.kind is CheckKind.TCP:
        return check.port
    if check is not None and check.kind is CheckKind.HTTP and check.url is not None:
        parts = urlsplit(check.url)
        return parts.port or (443 if parts.scheme == "https" else 80)
    return None


def _check(check: Check | None, label: str) -> dict[str, object] | None:
    if check is None or check.kind not in (CheckKind.TCP, CheckKind.HTTP):
        return None
    result: dict[str, object] = {
        "Name": label, "Type": check.kind.value, "PortLabel": PORT_LABEL,
        # Nomad's shortest check interval is one second
        "Interval": max(SECOND, round(check.interval * SECOND)),
        "Timeout": max(SECOND, round(check.timeout * SECOND)),
    }
    if check.kind is CheckKind.HTTP and check.url is not None:
        parts = urlsplit(check.url)
        result["Path"] = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        result["Protocol"] = parts.scheme
    return result


def _service_name(app: str, name: str) -> str:
    """Nomad service names are letters, digits and dashes."""
    return f"{app}-{name}".replace("_", "-").replace(".", "-").lower()


def _check_no_interpolation(service: str, values: Iterable[str]) -> None:
    for value in values:
        if "${" in value:
            raise ExportError(f"nomad: {service}: {value!r} holds '${{', which Nomad would "
                              "replace when it starts the task (it has no escape for it)")
