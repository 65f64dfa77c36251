"""The build pass: interpolated, schema-checked data → the frozen model (`Spec`), collecting
every problem on the way.

This is the one place where meaning is assigned: the command becomes one argv, durations and
signals are parsed, paths are resolved against the config's folder, and the environment is
layered (DESIGN §2.3). `${VAR}` was already interpolated (`config/interpolation.py`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from orchestra.config.collector import Collector, as_list, dotted
from orchestra.config.env_layers import named_env_files
from orchestra.config.envfiles import EnvFileCache
from orchestra.config.health import build_check
from orchestra.config.inference import InferenceError, infer_command
from orchestra.config.interpolation import MAX_PORT
from orchestra.config.model import (
    SHELL,
    RestartPolicy,
    Service,
    SourceKind,
    Spec,
    frozen_env,
)
from orchestra.config.relations import build_depends_on, build_restart
from orchestra.config.source import PathKey, SourceMap
from orchestra.config.values import parse_duration, parse_port, parse_signal
from orchestra.config.watch import build_watch
from orchestra.config.yaml_scalars import WrittenFloat, WrittenInt
from orchestra.errors import Location, Problem

T = TypeVar("T")


def env_text(value: object) -> str:
    """Env values may be written as numbers or booleans in YAML; the process sees text: a
    number as it was written (`1.10`, `0755`, not `1.1`, `493`), a boolean `true`/`false`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, WrittenInt | WrittenFloat):
        return value.written
    return "" if value is None else str(value)


# --------------------------------------------------------------------------- services

class ServiceBuilder:
    """Builds one `Service` from its raw mapping."""

    def __init__(self, root: Path, base_env: Mapping[str, str], base_secrets: frozenset[str],
                 problems: Collector, env_files: EnvFileCache,
                 auto_ports: Mapping[str, tuple[int, ...]] | None = None) -> None:
        self.root = root
        self.auto_ports = auto_ports or {}
        self.env_files = env_files
        self.base_env = base_env
        self.base_secrets = base_secrets
        self.problems = problems
        # Problems that leave the service in the model, so that the checks across services
        # still look at it (a missing directory does not make its dependencies any less wrong).
        self.findings: list[Problem] = []

    def build(self, name: str, raw: dict[str, object], path: PathKey, *,
              with_argv: bool = True) -> Service | None:
        """The service, or None if it has a problem of its own. `with_argv` False: the
        command is not built (an earlier pass found it wrong; no command inferred either)."""
        before = len(self.problems.problems)
        directory = self._directory(raw, path)
        entrypoint = raw.get("entrypoint")
        run_dir = directory / entrypoint if isinstance(entrypoint, str) else directory
        directories_exist = self._check_directories(raw, path, directory, run_dir)
        argv, shell = (self._argv(raw, path, run_dir) if directories_exist and with_argv
                       else ((), False))
        env, secrets = self._env(raw, path)
        auto_ports = self._auto_ports(name, raw, path)
        service = Service(
            name=name,
            argv=argv,
            shell=shell,
            dir=str(directory),
            run_dir=str(run_dir),
            entrypoint=entrypoint if isinstance(entrypoint, str) else None,
            env=frozen_env(env),
            secret_keys=secrets,
            namespace=str(raw.get("namespace", "default")),
            depends_on=build_depends_on(raw.get("depends_on"), (*path, "depends_on"),
                                         self.problems),
            readiness=build_check(raw.get("readiness"), (*path, "readiness"), self.problems),
            liveness=build_check(raw.get("liveness"), (*path, "liveness"), self.problems),
            restart=build_restart(raw.get("restart"), (*path, "restart"), self.problems)
            or RestartPolicy(),
            stop_signal=self._optional(raw, path, "stop_signal", parse_signal) or parse_signal(15),
            stop_timeout=self._optional(raw, path, "stop_timeout", parse_duration),
            replicas=int(raw.get("replicas", 1)),  # type: ignore[call-overload]
            port=auto_ports[0] if auto_ports else None if raw.get("port") == "auto"
            else self._optional(raw, path, "port", parse_port),
            auto_ports=auto_ports,
            disabled=bool(raw.get("disabled", False)),
            profiles=tuple(str(p) for p in as_list(raw.get("profiles"))),
            watch=build_watch(raw.get("watch"), (*path, "watch"), directory, self.problems),
            tty=bool(raw.get("tty", False)),
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
            # os.path answers False where it cannot look (a symbolic link loop, a name over
            # NAME_MAX, a folder it may not enter); Path.is_dir raises for some of those
            if not os.path.isdir(folder):
                where = (*path, key) if key in raw else path
                self._find(where, f"'{folder}' is not a directory" if os.path.exists(folder)
                           else f"directory '{folder}' does not exist")
                return False
        return True

    def _auto_ports(self, name: str, raw: dict[str, object], path: PathKey) -> tuple[int, ...]:
        """The ports picked for `port: auto` (by the ports pass); a `PORT` fixed in the
        service's own `env` would contradict them."""
        if raw.get("port") != "auto":
            return ()
        if name not in self.auto_ports:   # the ports pass looks before interpolation
            self.problems.add((*path, "port"), "write `port: auto` as it is: it cannot come "
                              "from a variable (the ports are picked before ${...} is read)")
            return ()
        env = raw.get("env")
        if isinstance(env, dict) and "PORT" in env:
            self.problems.add((*path, "env", "PORT"), "PORT is fixed here, but `port: auto` "
                              "picks this service's port (remove one of the two)", key=True)
        return self.auto_ports.get(name, ())

    def _check_ports(self, service: Service, path: PathKey) -> None:
        """`port` numbers the instances: the last one must be a port too."""
        if service.auto_ports:
            return
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
        try:
            return (self.root / value).resolve()
        except (OSError, RuntimeError):   # a loop, a name too long: reported as not there
            return self.root / value

    def _argv(self, raw: dict[str, object], path: PathKey,
              run_dir: Path) -> tuple[tuple[str, ...], bool]:
        command, args = raw.get("command"), [str(a) for a in as_list(raw.get("args"))]
        # `sh -c '  '` exits 0: a blank command would "complete" without running anything
        if isinstance(command, str) and command and not command.strip():
            self.problems.add((*path, "command"), "command is blank: nothing would run")
            return (), False
        if isinstance(command, list) and command and not str(command[0]).strip():
            self.problems.add((*path, "command", 0), "the program must not be empty")
            return (), False
        if isinstance(command, str) and not args:
            return (SHELL, "-c", command), True
        if isinstance(command, str):
            return (command, *args), False
        if isinstance(command, list):
            return tuple(str(c) for c in command) + tuple(args), False
        try:
            return infer_command(run_dir) + tuple(args), False
        except InferenceError as exc:
            removed = _removed_at(self.problems.source, (*path, "command"))
            if removed is None:
                self.problems.add(path, str(exc), key=True)
            else:   # a later config file took the command away: point there
                self.problems.problems.append(Problem(
                    removed, dotted((*path, "command")), f"removed here, so {exc}"))
            return (), False

    def _env(self, raw: dict[str, object], path: PathKey) -> tuple[dict[str, str], frozenset[str]]:
        env = dict(self.base_env)
        secrets = set(self.base_secrets)
        for index, item in enumerate(as_list(raw.get("env_file"))):
            loaded = named_env_files([item], self.root, self.env_files, self.problems,
                                    (*path, "env_file", index) if isinstance(raw.get("env_file"),
                                                                             list)
                                    else (*path, "env_file"))
            env.update(loaded)
            secrets.update(loaded)
        for key, value in dict(raw.get("env") or {}).items():  # type: ignore[call-overload]
            env[key] = env_text(value)
            secrets.discard(key)
        return env, frozenset(secrets)


def _removed_at(source: SourceMap, path: PathKey) -> Location | None:
    """Where a layered config file removed `path` (`!reset` or null), if one did."""
    from orchestra.config.merge import LayeredSourceMap

    return source.removed.get(path) if isinstance(source, LayeredSourceMap) else None


def build_spec(data: dict[str, object], source: SourceMap, file: Path,
               file_values: Mapping[str, str], variants: Mapping[str, Sequence[object]],
               wrong: Mapping[str, set[str]], env_files: EnvFileCache,
               auto_ports: Mapping[str, tuple[int, ...]] | None = None,
               ) -> tuple[Spec, list[Problem]]:
    """The build pass: every service built once, from interpolated, schema-checked data.

    The spec holds every service that built without a problem, so that the checks across
    services can still look at those and the user sees every problem of the file in one run.
    A service in `wrong` (name → the settings earlier passes found wrong; "" for the whole
    service) is built without those settings, for the problems of its other settings, and is
    left out of the spec: the checks across services see only what is sound, so a setting
    taken out cannot cause a problem elsewhere. `variants`: the data of instances 2, 3, … of
    services whose settings differ by instance.
    """
    problems = Collector(source)
    root = file.parent
    project_env = dict(data.get("env") or {})  # type: ignore[call-overload]
    base_env = dict(file_values)
    base_env.update((k, env_text(v)) for k, v in project_env.items())
    secrets = frozenset(k for k in file_values if k not in project_env)
    builder = ServiceBuilder(root, base_env, secrets, problems, env_files, auto_ports)
    services: list[Service] = []
    declared = data.get("services")
    for name, raw in (declared.items() if isinstance(declared, dict) else ()):
        path = ("services", name)
        keys = wrong.get(name)
        if keys is not None:
            if "" not in keys and isinstance(raw, dict):
                kept = {key: value for key, value in raw.items() if key not in keys}
                builder.build(name, kept, path,
                              with_argv="command" in kept and "args" not in keys)
            continue
        service = builder.build(name, raw or {}, path)
        if service is not None and name in variants:
            service = _with_instances(service, variants[name], builder)
        if service is not None:
            services.append(service)
    spec = Spec(str(file), SourceKind.YAML, str(root), tuple(services), frozen_env(base_env),
                secrets)
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
