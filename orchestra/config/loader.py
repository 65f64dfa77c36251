"""Find the project's config and run the loading passes: source → schema → build → checks.

`load_spec` is the single entry point used by every command; it either returns a valid,
frozen `Spec` or raises one `ConfigError` listing every problem found (DESIGN §7).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from orchestra.config.build import build_yaml, env_file_values, interpolate_document
from orchestra.config.checks import check_spec, unknown_dependency
from orchestra.config.collector import Collector
from orchestra.config.envfiles import (
    EnvFile,
    merge_env_files,
    read_env_file,
    read_env_file_and_problems,
)
from orchestra.config.inputs import note
from orchestra.config.model import SHELL, Service, SourceKind, Spec, frozen_env
from orchestra.config.procfile import read_procfile
from orchestra.config.schema import validate
from orchestra.config.source import Document, load_yaml
from orchestra.errors import ConfigError, Location, Problem

CANDIDATES = ("orchestra.yaml", "orchestra.yml", "Procfile")


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """What the command line says about where the project is."""

    file: Path | None = None                     # -f/--file (alias --procfile)
    env_files: tuple[Path, ...] | None = None    # -e/--env-file; None: `.env` beside the file
    app_root: Path | None = None                 # -d/--app-root
    cwd: Path = field(default_factory=Path.cwd)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    base_port: int | None = None                 # -p/--port: `${PORT}` where `port:` is unset


def discover(options: LoadOptions) -> Path:
    """The config file: `-f`, else orchestra.yaml / orchestra.yml / Procfile in the folder."""
    base = options.app_root or options.cwd
    if options.file is not None:
        return options.file if options.file.is_absolute() else base / options.file
    # honcho: PROCFILE from the environment, or from the .env files, names the Procfile
    named = options.environ.get("PROCFILE") or _procfile_from_env_files(options, base)
    if named:
        return base / named
    for name in CANDIDATES:
        note(base / name)
        if (base / name).exists():
            return base / name
    raise ConfigError.single(str(base), "no orchestra.yaml, orchestra.yml or Procfile here "
                                        "(name one with -f FILE)")


def config_exists(options: LoadOptions) -> bool:
    """Whether there is a config to load: `-f` names one (missing or not: loading says so),
    or one is found where `discover` looks."""
    if options.file is not None:
        return True
    try:
        return discover(options).exists()
    except ConfigError:
        return False


def _procfile_from_env_files(options: LoadOptions, base: Path) -> str | None:
    paths = [base / ".env"] if options.env_files is None else [
        base / p for p in options.env_files]   # an absolute p stays itself
    named = None
    for path in paths:
        try:
            named = read_env_file(path, required=False).values.get("PROCFILE", named)
        except ConfigError:
            continue  # reported with its line when the env files are loaded for real
    return named


def is_yaml(path: Path) -> bool:
    return path.suffix.lower() in (".yaml", ".yml")


def project_env_files(options: LoadOptions,
                      folder: Path) -> tuple[list[EnvFile], list[Problem]]:
    """`-e A,B` (required, later wins), else `.env` in the config's folder if present; with
    the problems found in them (what parsed is still returned, to check the rest with)."""
    if options.env_files is None:
        paths, required = [folder / ".env"], False
    else:
        paths, required = [(options.app_root or options.cwd) / p for p in options.env_files], True
    files: list[EnvFile] = []
    problems: list[Problem] = []
    for path in paths:
        env_file, found = read_env_file_and_problems(path, required=required)
        files.append(env_file)
        problems.extend(found)
    return files, problems


def load_spec(options: LoadOptions) -> Spec:
    """Every pass runs as far as it can, so one run reports every problem of the file."""
    path = discover(options)
    note(path.parent)                 # as given: a symlink on the way may be retargeted
    if options.app_root is not None:
        note(options.app_root)
    folder = (options.app_root or path.parent).resolve()
    if is_yaml(path):
        spec, declared, problems = _load_yaml(path, folder, options)
    else:
        env_files, problems = project_env_files(options, folder)
        try:
            spec = _load_procfile(path, folder, env_files)
        except ConfigError as exc:
            raise ConfigError(sorted([*problems, *exc.problems], key=_position)) from None
        declared = spec.names()
    problems.extend(check_spec(spec, declared))
    if problems:
        raise ConfigError(sorted(problems, key=_position))
    return spec


def _position(problem: Problem) -> tuple[str, int, int]:
    where = problem.location
    return where.file, where.line or 0, where.column or 0


def _load_yaml(path: Path, folder: Path,
               options: LoadOptions) -> tuple[Spec, tuple[str, ...], list[Problem]]:
    """The spec of the services that passed the schema and built, every declared service
    name, and the problems so far. A problem outside `services.NAME` stops here: without a
    sound top level there is nothing meaningful to build."""
    document = load_yaml(path)
    early = Collector(document.source)   # env files and interpolation
    data = _mapping(document.data)
    env_files: Sequence[EnvFile] = []
    # A project `env_file:` replaces the default `.env`, as `-e` does (docs/CONFIG.md); loading
    # both would let a stray `.env` override the files the config names.
    if options.env_files is not None or "env_file" not in data:
        env_files, env_problems = project_env_files(options, folder)
        early.problems.extend(env_problems)
    file_values = env_file_values(data, path.resolve().parent, env_files, early)
    checked, variants = (interpolate_document(data, file_values, options.environ, early,
                                              base_port=options.base_port)
                         if isinstance(document.data, dict) else (document.data, {}))
    # A value whose interpolation failed stays as written; what the schema then says about
    # that same field would only repeat the problem.
    reported = {p.field for p in early.problems if p.field}
    schema_problems = validate(checked, document.source, str(path))
    problems = [*early.problems, *(p for p in schema_problems if p.field not in reported)]
    services = _mapping(_mapping(checked).get("services"))
    declared = tuple(services)
    # An env file's problem (no field) does not stop the config from being checked; a problem
    # of the document's top level does.
    broken = {_service_of(p, declared) for p in [*early.problems, *schema_problems]
              if p.field or p in schema_problems}
    if None in broken:
        raise ConfigError(sorted(problems, key=_position))
    kept = {**_mapping(checked),
            "services": {k: v for k, v in services.items() if k not in broken}}
    spec, built_problems = build_yaml(Document(kept, document.source), path.resolve(),
                                      file_values, variants)
    # The services left out are built too, without their wrong settings, for the problems of
    # the others (the spec of that build is not used: the checks across services see only
    # what is sound, so a setting taken out cannot cause a problem somewhere else).
    rest = _without_wrong_settings(services, [*early.problems, *schema_problems], declared)
    _, rest_problems = build_yaml(Document({**_mapping(checked), "services": rest},
                                           document.source), path.resolve(), file_values)
    built_problems.extend(rest_problems)
    # A service left out for a problem of its own still gets its dependencies checked by name.
    built = set(spec.names())
    dangling = [unknown_dependency(name, dependency, declared,
                                   document.source.locate(("services", name, "depends_on", key)))
                for name in declared if name not in built
                for key, dependency in _dependency_names(services.get(name))
                if dependency not in declared]
    return spec, declared, [*problems, *built_problems, *dangling]


def _without_wrong_settings(services: Mapping[str, object], problems: Sequence[Problem],
                            declared: Sequence[str]) -> dict[str, object]:
    """Each service with a problem, minus the settings the problems are in; a service that is
    wrong as a whole (not a mapping, a bad name) is left out."""
    wrong: dict[str, set[str]] = {}
    for problem in problems:
        name = _service_of(problem, declared)
        if name is not None:
            below = problem.field[len(f"services.{name}"):].lstrip(".")
            wrong.setdefault(name, set()).add(re.split(r"[.\[]", below, maxsplit=1)[0])
    rest: dict[str, object] = {}
    for name, keys in wrong.items():
        raw = services.get(name)
        if "" in keys or not isinstance(raw, dict):
            continue
        kept = {key: value for key, value in raw.items() if key not in keys}
        if "command" not in kept or "args" in keys:
            # not inferred here: a misspelt `comand` would read as no command at all
            kept = {k: v for k, v in kept.items() if k != "args"} | {"command": ":"}
        rest[name] = kept
    return rest


def _dependency_names(raw: object) -> list[tuple[str | int, str]]:
    """(where, name) of each dependency in a service's raw `depends_on`, either form."""
    deps = raw.get("depends_on") if isinstance(raw, dict) else None
    if isinstance(deps, list):
        return [(i, d) for i, d in enumerate(deps) if isinstance(d, str)]
    if isinstance(deps, dict):
        return [(k, k) for k in deps if isinstance(k, str)]
    return []


def _service_of(problem: Problem, declared: Sequence[str]) -> str | None:
    """`services.web.port` → "web"; None for a problem outside one service."""
    for name in declared:
        prefix = f"services.{name}"
        if problem.field == prefix or problem.field.startswith((prefix + ".", prefix + "[")):
            return name
    return None


def _mapping(data: object) -> dict[str, object]:
    return data if isinstance(data, dict) else {}


def _load_procfile(path: Path, root: Path, env_files: Sequence[EnvFile]) -> Spec:
    """Procfile lines run under `sh -c` in the app root, with the `.env` values (honcho)."""
    entries = read_procfile(path)
    env = merge_env_files(env_files)
    secrets = frozenset(env)
    services = tuple(
        Service(
            name=entry.name,
            argv=(SHELL, "-c", entry.command),
            shell=True,
            dir=root,
            run_dir=root,
            env=frozen_env(env),
            secret_keys=secrets,
            location=Location(str(path), entry.line, 1),
        )
        for entry in entries
    )
    return Spec(path.resolve(), SourceKind.PROCFILE, root, services, frozen_env(env), secrets)
