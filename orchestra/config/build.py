"""Raw, schema-valid data → the frozen model (`Spec`), collecting every problem on the way.

This is the one place where meaning is assigned: the command becomes one argv, durations and
signals are parsed, paths are resolved against the config's folder, and the environment is
layered (DESIGN §2.3). Interpolation of `${VAR}` happens here too, per service, so that each
service sees its own `PORT`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from orchestra.config.collector import Collector, as_list, dotted
from orchestra.config.envfiles import EnvFile, merge_env_files, read_env_file_and_problems
from orchestra.config.health import build_check
from orchestra.config.inference import InferenceError, infer_command
from orchestra.config.interpolate import InterpolationError, interpolate
from orchestra.config.model import (
    CONDITION_ALIASES,
    PORT_STEP,
    SHELL,
    Condition,
    Dependency,
    RestartMode,
    RestartPolicy,
    Service,
    SourceKind,
    Spec,
    frozen_env,
)
from orchestra.config.source import Document, PathKey
from orchestra.config.values import parse_duration, parse_port, parse_signal
from orchestra.errors import Problem

T = TypeVar("T")


def env_text(value: object) -> str:
    """Env values may be written as numbers or booleans in YAML; the process sees text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


# --------------------------------------------------------------------------- interpolation

def interpolate_tree(data: object, path: PathKey, lookup: Mapping[str, str],
                     problems: Collector) -> object:
    """Interpolate every string below `data`; `x-*` keys are left alone (anchors only)."""
    if isinstance(data, str):
        try:
            return interpolate(data, lookup)
        except InterpolationError as exc:
            problems.add(path, exc.message)
            return data
    if isinstance(data, list):
        return [interpolate_tree(v, (*path, i), lookup, problems) for i, v in enumerate(data)]
    if isinstance(data, dict):
        return {k: v if k.startswith("x-") else interpolate_tree(v, (*path, k), lookup, problems)
                for k, v in data.items()}
    return data


# --------------------------------------------------------------------------- services

class ServiceBuilder:
    """Builds one `Service` from its raw mapping."""

    def __init__(self, root: Path, base_env: Mapping[str, str], base_secrets: frozenset[str],
                 problems: Collector) -> None:
        self.root = root
        self.base_env = base_env
        self.base_secrets = base_secrets
        self.problems = problems
        # Problems that leave the service in the model, so that the checks across services
        # still look at it (a missing directory does not make its dependencies any less wrong).
        self.findings: list[Problem] = []

    def build(self, name: str, raw: dict[str, object], path: PathKey) -> Service | None:
        before = len(self.problems.problems)
        directory = self._directory(raw, path)
        entrypoint = raw.get("entrypoint")
        run_dir = directory / entrypoint if isinstance(entrypoint, str) else directory
        directories_exist = self._check_directories(raw, path, directory, run_dir)
        argv, shell = self._argv(raw, path, run_dir) if directories_exist else ((), False)
        env, secrets = self._env(raw, path)
        service = Service(
            name=name,
            argv=argv,
            shell=shell,
            dir=directory,
            run_dir=run_dir,
            entrypoint=entrypoint if isinstance(entrypoint, str) else None,
            env=frozen_env(env),
            secret_keys=secrets,
            namespace=str(raw.get("namespace", "default")),
            depends_on=self._depends_on(raw.get("depends_on"), (*path, "depends_on")),
            readiness=build_check(raw.get("readiness"), (*path, "readiness"), self.problems),
            liveness=build_check(raw.get("liveness"), (*path, "liveness"), self.problems),
            restart=self._restart(raw.get("restart"), (*path, "restart")) or RestartPolicy(),
            stop_signal=self._optional(raw, path, "stop_signal", parse_signal) or parse_signal(15),
            stop_timeout=self._optional(raw, path, "stop_timeout", parse_duration),
            replicas=int(raw.get("replicas", 1)),  # type: ignore[call-overload]
            port=self._optional(raw, path, "port", parse_port),
            disabled=bool(raw.get("disabled", False)),
            location=self.problems.source.locate_key(path),
        )
        self._check_ports(service, path)
        return service if len(self.problems.problems) == before else None

    def _find(self, path: PathKey, message: str) -> None:
        """A finding at the value of `path`, once (instances 2, 3, … may repeat it)."""
        problem = Problem(self.problems.source.locate(path), dotted(path), message)
        if problem not in self.findings:
            self.findings.append(problem)

    def _check_directories(self, raw: dict[str, object], path: PathKey, directory: Path,
                           run_dir: Path) -> bool:
        for folder, key in ((directory, "dir"), (run_dir, "entrypoint")):
            if not folder.is_dir():
                where = (*path, key) if key in raw else path
                self._find(where, f"'{folder}' is not a directory" if folder.exists()
                           else f"directory '{folder}' does not exist")
                return False
        return True

    def _check_ports(self, service: Service, path: PathKey) -> None:
        """`port` numbers the instances: the last one must be a port too."""
        if service.port is not None and service.port + service.replicas - 1 > MAX_PORT:
            last = service.port + service.replicas - 1
            self._find((*path, "replicas"), f"{service.replicas} instances from port "
                       f"{service.port} would need ports up to {last} (the last is {MAX_PORT})")

    def _optional(self, raw: dict[str, object], path: PathKey, key: str,
                  parser: Callable[[object], T]) -> T | None:
        if key not in raw or raw[key] is None:
            return None
        return self.problems.parse((*path, key), raw[key], parser)

    def _directory(self, raw: dict[str, object], path: PathKey) -> Path:
        value = raw.get("dir")
        if not isinstance(value, str):
            return self.root
        return (self.root / value).resolve()

    def _argv(self, raw: dict[str, object], path: PathKey,
              run_dir: Path) -> tuple[tuple[str, ...], bool]:
        command, args = raw.get("command"), [str(a) for a in as_list(raw.get("args"))]
        if isinstance(command, str) and not args:
            return (SHELL, "-c", command), True
        if isinstance(command, str):
            return (command, *args), False
        if isinstance(command, list):
            return tuple(str(c) for c in command) + tuple(args), False
        try:
            return infer_command(run_dir) + tuple(args), False
        except InferenceError as exc:
            self.problems.add(path, str(exc), key=True)
            return (), False

    def _env(self, raw: dict[str, object], path: PathKey) -> tuple[dict[str, str], frozenset[str]]:
        env = dict(self.base_env)
        secrets = set(self.base_secrets)
        for index, item in enumerate(as_list(raw.get("env_file"))):
            loaded = load_env_files([item], self.root, self.problems,
                                    (*path, "env_file", index) if isinstance(raw.get("env_file"),
                                                                             list)
                                    else (*path, "env_file"))
            env.update(loaded)
            secrets.update(loaded)
        for key, value in dict(raw.get("env") or {}).items():  # type: ignore[call-overload]
            env[key] = env_text(value)
            secrets.discard(key)
        return env, frozenset(secrets)

    def _depends_on(self, value: object, path: PathKey) -> tuple[Dependency, ...]:
        source = self.problems.source
        if isinstance(value, list):
            return tuple(Dependency(str(name), location=source.locate((*path, index)))
                         for index, name in enumerate(value))
        if not isinstance(value, dict):
            return ()
        deps = []
        for name, options in value.items():
            condition = Condition.STARTED
            if isinstance(options, dict) and options.get("condition") is not None:
                text = str(options["condition"])
                if text in CONDITION_ALIASES:
                    condition = CONDITION_ALIASES[text]
                else:
                    self.problems.add((*path, name, "condition"), f"invalid condition '{text}'")
            deps.append(Dependency(str(name), condition, source.locate_key((*path, name))))
        return tuple(deps)

    def _restart(self, value: object, path: PathKey) -> RestartPolicy | None:
        if value is None:
            return None
        if value is False:
            return RestartPolicy(RestartMode.NO)
        if isinstance(value, str):
            return RestartPolicy(RestartMode(value))
        if not isinstance(value, dict):
            return None
        backoff: float | None = 1.0
        if "backoff" in value:   # 0 is allowed: restart at once
            backoff = self.problems.parse((*path, "backoff"), value["backoff"], parse_duration)
        policy = value.get("policy", "no")
        mode = RestartMode.NO if policy is False else RestartMode(str(policy))
        max_restarts = value.get("max_restarts")
        return RestartPolicy(mode, max_restarts if isinstance(max_restarts, int) else None,
                             1.0 if backoff is None else backoff)


# --------------------------------------------------------------------------- env files

def load_env_files(items: Sequence[object], root: Path, problems: Collector,
                   path: PathKey) -> dict[str, str]:
    """Env files named in the YAML: relative to the config's folder, and required."""
    files: list[EnvFile] = []
    for item in items:
        env_file, found = read_env_file_and_problems(root / str(item), required=True)
        files.append(env_file)
        for problem in found:
            if problem.location.line is not None:
                problems.problems.append(Problem(problem.location,
                                                 problem.field or dotted(path),
                                                 problem.message))
            else:
                # No line in the env file (it is missing or unreadable): point at the YAML
                # that names it, and keep its path in the message.
                problems.problems.append(Problem(problems.source.locate(path), dotted(path),
                                                 f"{problem.location.file}: "
                                                 f"{problem.message}"))
    return merge_env_files(files)


def env_file_values(data: dict[str, object], root: Path, project_files: Sequence[EnvFile],
                    problems: Collector) -> dict[str, str]:
    """The project's env-file values: `-e`/default `.env` files, then the top-level
    `env_file:` list (later wins). A wrongly typed `env_file` is left to the schema."""
    values = merge_env_files(project_files)
    named = data.get("env_file")
    if isinstance(named, str) or (isinstance(named, list)
                                  and all(isinstance(n, str) for n in named)):
        values.update(load_env_files(as_list(named), root, problems, ("env_file",)))
    return values


def interpolate_document(data: dict[str, object], file_values: Mapping[str, str],
                         environ: Mapping[str, str], problems: Collector, *,
                         base_port: int | None = None,
                         ) -> tuple[dict[str, object], dict[str, list[object]]]:
    """`${VAR}` in every string of the project `env` and of each service, before the schema
    sees them, so `stop_timeout: ${T:-5s}` is checked as the duration it becomes. Each
    service sees its own `PORT`, `ORCHESTRA_SERVICE` and `PS`.

    Returns the document as instance 1 sees it, and, for a service with replicas whose
    settings use `${PORT}` or `${PS}`, its data as instances 2, 3, … see it. `base_port`
    (`-p`) gives `PORT` to services without `port:` by the foreman rule, as the plan does.
    """
    lookup = {**environ, **file_values}
    result = dict(data)
    if "env" in data:
        result["env"] = interpolate_tree(data["env"], ("env",), lookup, problems)
    services = data.get("services")
    variants: dict[str, list[object]] = {}
    if isinstance(services, dict):
        interpolated = {}
        for index, (name, raw) in enumerate(services.items()):
            base = None if base_port is None else base_port + PORT_STEP * index

            def each(number: int, into: Collector, name: str = name, raw: object = raw,
                     base: int | None = base) -> object:
                return _interpolate_service(name, raw, number, lookup, into, base)

            interpolated[name] = each(1, problems)
            replicas = _lookup(interpolated[name], ("replicas",))
            replicas = 1 if replicas is None else replicas
            if isinstance(replicas, int) and 1 <= replicas <= MAX_REPLICAS:
                # instance 2 is computed even for one replica: `-c web=2` may ask for it
                quiet = Collector(problems.source)   # instance 1 reported the problems
                second = each(2, quiet)
                if _differs_by_instance(second, interpolated[name]):
                    variants[name] = [second, *(each(n, quiet) for n in range(3, replicas + 1))]
        result["services"] = interpolated
    return result, variants


#: As the schema's `replicas` maximum.
MAX_REPLICAS = 10000
MAX_PORT = 65535


def _interpolate_service(name: str, raw: object, number: int, lookup: Mapping[str, str],
                         problems: Collector, base: int | None) -> object:
    service_lookup = {**lookup, "ORCHESTRA_SERVICE": name, "PS": f"{name}.{number}"}
    port = raw.get("port") if isinstance(raw, dict) else None
    if isinstance(port, str):   # `port: ${WEB_PORT:-8000}`
        with contextlib.suppress(InterpolationError):
            port = interpolate(port, lookup).strip()
        port = int(port) if isinstance(port, str) and port.isascii() and port.isdigit() else None
    if not isinstance(port, int) or isinstance(port, bool):
        port = base      # -p's rule for this service, or nothing to say
    if port is not None:
        service_lookup["PORT"] = str(port + number - 1)
    value = interpolate_tree(raw, ("services", name), service_lookup, problems)
    return _numbers_from_variables(raw, value)


def _differs_by_instance(second: object, first: object) -> bool:
    """Whether instance 2's data differs from instance 1's other than in `port` itself."""
    if isinstance(second, dict) and isinstance(first, dict):
        return {k: v for k, v in second.items() if k != "port"} != \
            {k: v for k, v in first.items() if k != "port"}
    return second != first


#: Keys whose value is a number; `port: ${WEB_PORT:-8000}` gives one through a string.
_NUMBER_KEYS = (("port",), ("replicas",), ("restart", "max_restarts"),
                ("readiness", "retries"), ("liveness", "retries"))
#: Durations, which may be plain numbers too: `stop_timeout: ${STOP:-10}` is 10 seconds.
_DURATION_KEYS = (("stop_timeout",), ("restart", "backoff"),
                  *((check, key) for check in ("readiness", "liveness")
                    for key in ("interval", "timeout", "start_period")))
_PLAIN_NUMBER = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+")


def _numbers_from_variables(raw: object, value: object) -> object:
    """A number written as `${VAR}` becomes the number it expands to (as in compose); a
    literal string stays a string, for the schema to report."""
    for keys in (*_NUMBER_KEYS, *_DURATION_KEYS):
        written, holder = _lookup(raw, keys[:-1]), _lookup(value, keys[:-1])
        if not isinstance(written, dict) or not isinstance(holder, dict):
            continue
        before, after = written.get(keys[-1]), holder.get(keys[-1])
        if not (isinstance(before, str) and "${" in before and isinstance(after, str)):
            continue
        if keys in _NUMBER_KEYS and after.strip().isascii() and after.strip().isdigit():
            holder[keys[-1]] = int(after)
        elif keys in _DURATION_KEYS and _PLAIN_NUMBER.fullmatch(after.strip()):
            holder[keys[-1]] = float(after)
    return value


def _lookup(data: object, keys: tuple[str, ...]) -> object:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def build_yaml(document: Document, file: Path, file_values: Mapping[str, str],
               variants: Mapping[str, Sequence[object]] | None = None,
               ) -> tuple[Spec, list[Problem]]:
    """Build the model from interpolated, schema-valid data; returns the problems too.

    The spec holds every service that built without a problem, so that the checks can still
    look at those and the user sees every problem of the file in one run. `variants`: the
    data of instances 2, 3, … of services whose settings differ by instance.
    """
    data = document.data
    assert isinstance(data, dict)  # the schema guarantees a mapping
    problems = Collector(document.source)
    root = file.parent
    project_env = dict(data.get("env") or {})
    base_env = dict(file_values)
    base_env.update((k, env_text(v)) for k, v in project_env.items())
    secrets = frozenset(k for k in file_values if k not in project_env)
    builder = ServiceBuilder(root, base_env, secrets, problems)
    services: list[Service] = []
    declared = data.get("services")
    for name, raw in (declared.items() if isinstance(declared, dict) else ()):
        service = builder.build(name, raw or {}, ("services", name))
        if service is not None and variants and name in variants:
            service = _with_instances(service, variants[name], builder)
        if service is not None:
            services.append(service)
    spec = Spec(file, SourceKind.YAML, root, tuple(services), frozen_env(base_env), secrets)
    return spec, [*problems.problems, *builder.findings]


def _with_instances(service: Service, variants: Sequence[object],
                    builder: ServiceBuilder) -> Service | None:
    """`service`, marked as varying by instance, with its instances 2..replicas built from
    their own data. (With one replica, instance 2 was interpolated only to learn that the
    settings vary, so that `-c web=2` can be refused; it never runs and is not built.)"""
    path = ("services", service.name)
    built = []
    for raw in variants[:service.replicas - 1]:
        instance = builder.build(service.name, raw if isinstance(raw, dict) else {}, path)
        if instance is None:
            return None
        built.append(instance)
    return dataclasses.replace(service, varies_by_instance=True, instances=tuple(built))
