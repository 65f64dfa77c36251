"""Kubernetes: `APP.yaml` with a Deployment per service (a Job for one a dependent waits to
complete), a Service per `port`, and `APP-secrets.yaml` (0600) with a Secret per service for
its `.env` values, referenced by `envFrom`.

Kubernetes expands `$(VAR)` in `command`, `args` and `env` values and reads `$$` as `$`, so
each `$` there is written `$$`. Start order survives as init containers running `kubectl
wait`: for a dependency that must be ready, until its Deployment is Available (its pods pass
their readiness probe, so its Service answers); for one that must complete, until its Job is
Complete. They run as a ServiceAccount allowed only to read Deployments and Jobs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
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
from orchestra.export.yamltext import commented, yaml_documents

KUBECTL_IMAGE = "registry.k8s.io/kubectl:v1.33.0"
DNS_LABEL = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
Unit = tuple[ExportService, ExportInstance, int, str]   # service, instance, replicas, name


def render(project: ExportProject) -> list[ExportFile]:
    app = project.target.app
    units = _units(project)
    names = {s.name: [u[3] for u in units if u[0] is s] for s in project.services}
    waits = any(d.condition is not Condition.STARTED
                for s in project.services for d in s.depends_on)
    documents: list[object] = [*_rbac(app)] if waits else []
    secrets: list[object] = []
    for service, instance, replicas, name in units:
        labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": _name(app)}
        secret = f"{name}-env" if instance.secrets else None
        if secret is not None:
            secrets.append({"apiVersion": "v1", "kind": "Secret",
                            "metadata": {"name": secret, "labels": labels},
                            "type": "Opaque", "stringData": dict(instance.secrets)})
        pod, notes = _pod(project, service, instance, replicas, names, secret)
        documents.append(_workload(service, name, labels, pod, replicas, notes))
        if instance.port is not None and not service.one_shot:
            documents.append({"apiVersion": "v1", "kind": "Service",
                              "metadata": {"name": name, "labels": labels},
                              "spec": {"selector": labels, "ports": [
                                  {"name": "main", "port": instance.port,
                                   "targetPort": instance.port}]}})
    files = [ExportFile(f"{app}.yaml", yaml_documents(documents))]
    if secrets:
        files.append(ExportFile(f"{app}-secrets.yaml", yaml_documents(secrets), secret=True))
    return files


def _units(project: ExportProject) -> list[Unit]:
    """A workload per service, or per instance where instances differ; names checked."""
    units: list[Unit] = []
    for service in project.services:
        if len(service.instances) == 1 or service.same_but_ps():
            units.append((service, service.instances[0], len(service.instances),
                          _name(f"{project.target.app}-{service.name}")))
        else:
            units += [(service, i, 1, _name(f"{project.target.app}-{i.name}"))
                      for i in service.instances]
    seen: set[str] = set()
    for unit in units:
        if unit[3] in seen:
            raise ExportError(f"kubernetes: two services become the name '{unit[3]}' "
                              "(lowercase, '-' for '_' and '.')")
        seen.add(unit[3])
    return units


def _name(text: str) -> str:
    name = text.lower().replace("_", "-").replace(".", "-")
    if not DNS_LABEL.fullmatch(name):
        raise ExportError(f"kubernetes: '{name}' is not a valid name (at most 63 lowercase "
                          "letters, digits and '-', starting with a letter); choose -a APP")
    return name


def _workload(service: ExportService, name: str, labels: dict[str, str],
              pod: dict[str, object], replicas: int, notes: list[str]) -> object:
    metadata = {"name": name, "labels": labels}
    template = {"metadata": {"labels": labels}, "spec": pod}
    if service.one_shot:
        policy = service.restart
        spec: dict[str, object] = {"template": template}
        if replicas > 1:
            spec["completions"] = spec["parallelism"] = replicas
        pod["restartPolicy"] = "Never"
        if policy.mode is RestartMode.NO:
            spec["backoffLimit"] = 0
        elif policy.max_restarts is not None:
            spec["backoffLimit"] = policy.max_restarts
        else:
            notes.append("restarts without limit: Kubernetes' default backoffLimit applies")
        data = {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": spec}
    else:
        if service.restart.mode is not RestartMode.ALWAYS:
            notes.append(f"restart {service.restart.mode.value}: a Deployment restarts its "
                         "containers whatever their exit")
        data = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata,
                "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                         "template": template}}
    return commented(data, {"spec": notes})


def _pod(project: ExportProject, service: ExportService, instance: ExportInstance,
         replicas: int, names: Mapping[str, list[str]],
         secret: str | None) -> tuple[dict[str, object], list[str]]:
    notes: list[str] = []
    env = dict(instance.env)
    if replicas > 1:
        del env["PS"]
        notes.append("replicas share one environment: PS is not set")
    container: dict[str, object] = {
        "name": _name(service.name),
        "image": project.target.image,
        "command": [_escaped(instance.argv[0])],
        "args": [_escaped(a) for a in instance.argv[1:]],
        "workingDir": str(service.cwd),
        "env": [{"name": k, "value": _escaped(v)} for k, v in env.items()],
    }
    if secret is not None:
        container["envFrom"] = [{"secretRef": {"name": secret}}]
    if service.tty:   # `kubectl attach -it` is then what `orchestra attach` is
        container["tty"] = True
        container["stdin"] = True
    if instance.port is not None:
        container["ports"] = [{"name": "main", "containerPort": instance.port}]
    for key, check in (("readinessProbe", service.readiness),
                       ("livenessProbe", service.liveness)):
        probe = _probe(check, liveness=key == "livenessProbe")
        if probe is not None:
            container[key] = probe
        elif check is not None:
            notes.append(f"{check.describe()}: no Kubernetes probe does this; not carried over")
    pod: dict[str, object] = {}
    if service.stop_signal != "SIGTERM":
        container["lifecycle"] = {"stopSignal": service.stop_signal}
        pod["os"] = {"name": "linux"}   # stopSignal requires it
    if project.target.user is not None:
        container["securityContext"] = {"runAsUser": int(project.target.user)}
    waits = []
    for dep in service.depends_on:
        if dep.condition is Condition.STARTED:
            notes.append(f"{dep.service} (started): pods start together; not waited for")
            continue
        kind, condition = (("job", "complete") if dep.condition is Condition.COMPLETED_SUCCESSFULLY
                           else ("deployment", "available"))
        waits += [{"name": f"wait-{other}"[:63].rstrip("-"), "image": KUBECTL_IMAGE,
                   "command": ["kubectl", "wait", f"--for=condition={condition}",
                               f"{kind}/{other}", "--timeout=-1s"]}
                  for other in names[dep.service]]
    if waits:
        pod["serviceAccountName"] = f"{_name(project.target.app)}-wait"
        pod["initContainers"] = waits
    pod["containers"] = [container]
    pod["terminationGracePeriodSeconds"] = math.ceil(service.stop_timeout)
    return pod, notes


def _probe(check: Check | None, liveness: bool) -> dict[str, object] | None:
    if check is None:
        return None
    probe: dict[str, object]
    if check.kind is CheckKind.TCP:
        probe = {"tcpSocket": {"port": check.port}}
        if check.host not in LOOPBACK:
            probe["tcpSocket"] = {"host": check.host, "port": check.port}
    elif check.kind is CheckKind.HTTP and check.url is not None:
        parts = urlsplit(check.url)
        get: dict[str, object] = {
            "path": (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
            "port": parts.port or (443 if parts.scheme == "https" else 80),
            "scheme": parts.scheme.upper()}
        if parts.hostname not in LOOPBACK:
            get["host"] = parts.hostname
        probe = {"httpGet": get}
    elif check.kind is CheckKind.EXEC:
        probe = {"exec": {"command": list(check.argv)}}
    else:
        return None
    probe["periodSeconds"] = max(1, math.ceil(check.interval))
    probe["timeoutSeconds"] = max(1, math.ceil(check.timeout))
    if check.retries is not None:
        probe["failureThreshold"] = max(1, check.retries)
    if liveness:
        probe["initialDelaySeconds"] = math.ceil(check.start_period)
    return probe


def _rbac(app: str) -> list[object]:
    """What the `kubectl wait` init containers may do: read Deployments and Jobs."""
    name = f"{_name(app)}-wait"
    labels = {"app.kubernetes.io/part-of": _name(app)}
    meta = {"name": name, "labels": labels}
    verbs = ["get", "list", "watch"]
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta,
         "rules": [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": verbs},
                   {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": verbs}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta,
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
         "subjects": [{"kind": "ServiceAccount", "name": name}]},
    ]


def _escaped(text: str) -> str:
    """`$(VAR)` is expanded by Kubernetes; `$$` is a `$`."""
    return text.replace("$", "$$")
