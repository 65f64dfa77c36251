"""docker compose: `compose.yaml`, one compose service per service (`deploy.replicas` for
identical replicas), `.env` values in an `env_file:` per service (written 0600).

Compose interpolates `$` in every string of the file, so each `$` is written `$$`; in env
files, values are double-quoted with `\\`, `"`, `$` and line breaks escaped, as compose's
env-file reader expects. Readiness becomes a `healthcheck` where the check can run inside the
container (`exec`); a comment says where it cannot, and a dependent that waited for it to be
ready then waits for it to have started.
"""

from __future__ import annotations

from collections.abc import Mapping

from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from orchestra.config.model import CheckKind, Condition, RestartMode
from orchestra.config.model_parts import Check
from orchestra.export.project import (
    ExportFile,
    ExportInstance,
    ExportProject,
    ExportService,
)
from orchestra.export.yamltext import commented, yaml_documents

CONDITIONS = {
    Condition.STARTED: "service_started",
    Condition.READY: "service_healthy",
    Condition.COMPLETED_SUCCESSFULLY: "service_completed_successfully",
}


def render(project: ExportProject) -> list[ExportFile]:
    names = {s.name: compose_names(s) for s in project.services}
    services: dict[str, object] = {}
    files: list[ExportFile] = []
    notes: dict[str, list[str]] = {}
    for service in project.services:
        replicated = len(service.instances) > 1 and service.same_but_ps()
        instances = service.instances[:1] if replicated else service.instances
        for name, instance in zip(names[service.name], instances, strict=True):
            env_file = None
            if instance.secrets:
                env_file = f"{name}.env"
                files.append(ExportFile(env_file, env_file_text(instance.secrets), secret=True))
            services[name], notes[name] = _service(project, service, instance, names,
                                                   env_file, len(service.instances)
                                                   if replicated else 1)
    document = {"name": project.target.app.lower(),
                "services": commented(services, notes, indent=2)}
    return [ExportFile("compose.yaml", yaml_documents([document])), *files]


def compose_names(service: ExportService) -> list[str]:
    """The compose services of one service: itself, or one per instance that differs."""
    if len(service.instances) == 1 or service.same_but_ps():
        return [service.name]
    return [i.name for i in service.instances]


def _service(project: ExportProject, service: ExportService, instance: ExportInstance,
             names: Mapping[str, list[str]], env_file: str | None,
             replicas: int) -> tuple[dict[str, object], list[str]]:
    notes: list[str] = []
    data: dict[str, object] = {"image": _escaped(project.target.image or "")}
    if project.target.user is not None:
        data["user"] = _escaped(project.target.user)
    data["entrypoint"] = [_escaped(instance.argv[0])]
    if len(instance.argv) > 1:
        data["command"] = [_escaped(a) for a in instance.argv[1:]]
    data["working_dir"] = _escaped(str(service.cwd))
    if service.tty:   # `docker compose attach` is then what `orchestra attach` is
        data["tty"] = True
        data["stdin_open"] = True
    env = dict(instance.env)
    if replicas > 1:
        del env["PS"]
        notes.append(f"replicas of {service.name} share one environment: PS is not set")
    data["environment"] = {k: DoubleQuotedScalarString(_escaped(v)) for k, v in env.items()}
    if env_file is not None:
        data["env_file"] = [env_file]
    depends_on: dict[str, object] = {}
    for dep in service.depends_on:
        condition = CONDITIONS[dep.condition]
        other = project.service(dep.service)
        if dep.condition is Condition.READY and _healthcheck(other.readiness) is None:
            condition = CONDITIONS[Condition.STARTED]
            notes.append(f"{dep.service} is waited for until ready in orchestra; its check "
                         "has no in-container form here, so only until it has started")
        for name in names[dep.service]:
            depends_on[name] = {"condition": condition}
    if depends_on:
        data["depends_on"] = depends_on
    health = _healthcheck(service.readiness)
    if health is not None:
        data["healthcheck"] = health
    for label, check in (("readiness", service.readiness), ("liveness", service.liveness)):
        if check is not None and (label == "liveness" or health is None):
            notes.append(f"{label} {check.describe()}: no in-container equivalent; not "
                         "carried over")
    data["restart"] = DoubleQuotedScalarString(_restart(service))
    if replicas > 1:
        data["deploy"] = {"replicas": replicas}
    data["stop_signal"] = service.stop_signal
    data["stop_grace_period"] = _duration(service.stop_timeout)
    return data, notes


def _healthcheck(check: Check | None) -> dict[str, object] | None:
    if check is None or check.kind is not CheckKind.EXEC:
        return None
    return {
        "test": ["CMD", *(_escaped(a) for a in check.argv)],
        "interval": _duration(check.interval),
        "timeout": _duration(check.timeout),
        # orchestra without `retries`: failures count until start_period ends, then one ends it
        "retries": check.retries if check.retries is not None else 1,
        "start_period": _duration(check.start_period),
    }


def _restart(service: ExportService) -> str:
    policy = service.restart
    if policy.mode is RestartMode.ALWAYS:
        return "always"
    if policy.mode is RestartMode.ON_FAILURE:
        limit = policy.max_restarts
        return "on-failure" if limit is None else f"on-failure:{limit}"
    return "no"


def _duration(seconds: float) -> str:
    """`10s`, or `1500ms` where the value is not whole seconds."""
    millis = round(seconds * 1000)
    return f"{millis // 1000}s" if millis % 1000 == 0 else f"{millis}ms"


def _escaped(text: str) -> str:
    """Compose interpolates `${VAR}` and `$VAR` everywhere in the file; `$$` is a `$`."""
    return text.replace("$", "$$")


def env_file_text(values: Mapping[str, str]) -> str:
    lines = []
    for key, value in values.items():
        escaped = (value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
                   .replace("\n", "\\n"))
        lines.append(f'{key}="{escaped}"\n')
    return "".join(lines)
