"""Load an orchestra.yaml as a sequence of passes over one load state.

    read → merge → env files → ports → interpolate → schema → build → dependencies by name
    (→ the checks across services, `config/checks.py`, run by the loader for every kind)

Each pass adds what it found to the state and collects problems rather than stopping, so one
run reports every problem of the file. Only a problem outside every service (no `services`,
a bad top-level key) stops after the schema pass: without a sound top level there is nothing
meaningful to build. Imported only for YAML configs: a Procfile project never loads ruamel.yaml.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from orchestra.config.build import build_spec
from orchestra.config.checks import unknown_dependency
from orchestra.config.collector import Collector
from orchestra.config.env_layers import project_file_values
from orchestra.config.envfiles import EnvFile, EnvFileCache
from orchestra.config.interpolation import MAX_REPLICAS, interpolate_document
from orchestra.config.merge import merge_documents
from orchestra.config.model import Spec
from orchestra.config.project import LoadOptions, project_env_files
from orchestra.config.schema import validate
from orchestra.config.source import Document, load_yaml
from orchestra.errors import ConfigError, Problem, by_position


@dataclass
class YamlLoad:
    """What the passes share: the input, what each pass made of it, and the problems."""

    path: Path                                    # the first file: relative paths start here
    folder: Path
    options: LoadOptions
    document: Document                            # merged, when there are several files
    env_files: EnvFileCache = field(default_factory=EnvFileCache)
    file_values: dict[str, str] = field(default_factory=dict)
    data: object = None                           # interpolated
    variants: dict[str, list[object]] = field(default_factory=dict)
    declared: tuple[str, ...] = ()
    wrong: dict[str, set[str]] = field(default_factory=dict)   # service → wrong settings
    auto_ports: dict[str, tuple[int, ...]] = field(default_factory=dict)  # `port: auto`
    problems: list[Problem] = field(default_factory=list)


def load_yaml_config(paths: Sequence[str], folder: str,
                     options: LoadOptions) -> tuple[Spec, tuple[str, ...], list[Problem]]:
    """The spec of the services without problems, every declared service name, and every
    problem found by the passes. Several files are merged in order (`config/merge.py`).
    The YAML passes work with pathlib; the model they build holds strings
    (orchestra/pathnames.py)."""
    files = [Path(path) for path in paths]
    load = YamlLoad(files[0], Path(folder), options, read_and_merge(files))
    read_env_files(load)
    pick_auto_ports(load)
    interpolate(load)
    check_schema(load)
    spec = build(load)
    check_dependency_names(load, spec)
    if len(paths) > 1:
        spec = dataclasses.replace(spec, layers=tuple(os.path.realpath(p) for p in paths))
    return spec, load.declared, load.problems


def read_and_merge(paths: Sequence[Path]) -> Document:
    """read: each file with the positions of its nodes (every file's syntax problems at
    once); merge: the files as one document that still knows where each node came from."""
    documents: list[Document] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            documents.append(load_yaml(path))
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    return merge_documents(documents)


def read_env_files(load: YamlLoad) -> None:
    """The project's env-file values. A project `env_file:` replaces the default `.env`, as
    `-e` does (docs/CONFIG.md): loading both would let a stray `.env` override the files the
    config names."""
    data = _mapping(load.document.data)
    collector = Collector(load.document.source)
    project_files: Sequence[EnvFile] = []
    if load.options.env_files is not None or "env_file" not in data:
        project_files, found = project_env_files(load.options, str(load.folder),
                                                 load.env_files)
        collector.problems.extend(found)
    load.file_values = project_file_values(data, load.path.resolve().parent, project_files,
                                           load.env_files, collector)
    load.problems.extend(collector.problems)


def pick_auto_ports(load: YamlLoad) -> None:
    """`port: auto`: a free port for each instance, picked before interpolation so that
    `${PORT}` and `${services.NAME.port}` have their values (and reserved against every other
    orchestra of the user until this one exits: `orchestra/config/ports.py`). Nothing is imported
    or reserved for a config without `port: auto`."""
    services = _mapping(_mapping(load.document.data).get("services"))
    wanted = {name: raw for name, raw in services.items()
              if isinstance(raw, dict) and raw.get("port") == "auto"}
    if not wanted:
        return
    from orchestra.config.ports import pick_ports

    fixed = {port + n for raw in services.values() if isinstance(raw, dict)
             for port in [raw.get("port")] if isinstance(port, int)
             for n in range(_replicas(raw))}
    for name, raw in wanted.items():
        load.auto_ports[name] = tuple(pick_ports(_replicas(raw), fixed))


def _replicas(raw: dict[str, object]) -> int:
    """The instances a service asks for, as written (a `${VAR}` counts as one)."""
    count = raw.get("replicas", 1)
    return count if isinstance(count, int) and 1 <= count <= MAX_REPLICAS else 1


def interpolate(load: YamlLoad) -> None:
    """`${VAR}` in every string, before the schema sees the values they become."""
    if not isinstance(load.document.data, dict):
        load.data = load.document.data
        return
    collector = Collector(load.document.source)
    load.data, load.variants = interpolate_document(
        load.document.data, load.file_values, load.options.environ, collector,
        base_port=load.options.base_port, auto_ports=load.auto_ports)
    load.problems.extend(collector.problems)


def check_schema(load: YamlLoad) -> None:
    """Shape problems; which settings of which services are wrong; stop on the top level's.

    A value whose interpolation failed stays as written: what the schema then says about that
    same field would only repeat the problem.
    """
    earlier = list(load.problems)
    reported = {p.field for p in earlier if p.field}
    found = validate(load.data, load.document.source)
    load.problems.extend(p for p in found if p.field not in reported)
    load.declared = tuple(_mapping(_mapping(load.data).get("services")))
    # An env file's problem (no field) does not stop the config from being checked; a
    # problem of the document's top level does.
    for problem in [*(p for p in earlier if p.field), *found]:
        name = _service_of(problem, load.declared)
        if name is None:
            raise ConfigError(sorted(load.problems, key=by_position))
        below = problem.field[len(f"services.{name}"):].lstrip(".")
        load.wrong.setdefault(name, set()).add(re.split(r"[.\[]", below, maxsplit=1)[0])


def build(load: YamlLoad) -> Spec:
    """Every service built once (see `build_spec`)."""
    spec, found = build_spec(_mapping(load.data), load.document.source, load.path.resolve(),
                             load.file_values, load.variants, load.wrong, load.env_files,
                             load.auto_ports)
    load.problems.extend(found)
    return spec


def check_dependency_names(load: YamlLoad, spec: Spec) -> None:
    """A service left out for a problem of its own still gets its dependencies checked by
    name (the checks across services see only the services that built)."""
    services = _mapping(_mapping(load.data).get("services"))
    built = set(spec.names())
    source = load.document.source
    load.problems.extend(
        unknown_dependency(name, dependency, load.declared,
                           source.locate(("services", name, "depends_on", key)))
        for name in load.declared if name not in built
        for key, dependency in _dependency_names(services.get(name))
        if dependency not in load.declared)


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
