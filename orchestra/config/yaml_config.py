"""Load an orchestra.yaml: compose with positions, env files, interpolate, schema, build.

Imported only for YAML configs: a Procfile project never loads ruamel.yaml.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from orchestra.config.build import build_yaml, env_file_values, interpolate_document
from orchestra.config.checks import unknown_dependency
from orchestra.config.collector import Collector
from orchestra.config.envfiles import EnvFile
from orchestra.config.model import Spec
from orchestra.config.project import LoadOptions, project_env_files
from orchestra.config.schema import validate
from orchestra.config.source import Document, load_yaml
from orchestra.errors import ConfigError, Problem, by_position


def load_yaml_config(path: Path, folder: Path,
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
        raise ConfigError(sorted(problems, key=by_position))
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
