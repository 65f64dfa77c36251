"""Find the project's config and run the loading passes: source → schema → build → checks.

`load_spec` is the single entry point used by every command; it either returns a valid,
frozen `Spec` or raises one `ConfigError` listing every problem found (DESIGN §7).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from orchestra.config.checks import check_spec
from orchestra.config.envfiles import EnvFile, merge_env_files
from orchestra.config.model import SHELL, Service, SourceKind, Spec, frozen_env
from orchestra.config.procfile import read_procfile
from orchestra.config.project import (
    LoadOptions,
    config_exists,
    config_files,
    is_yaml,
    project_env_files,
)
from orchestra.errors import ConfigError, Location, UsageError, by_position

__all__ = ["LoadOptions", "config_exists", "load_spec", "project_env_files"]

def load_spec(options: LoadOptions) -> Spec:
    """Every pass runs as far as it can, so one run reports every problem of the file."""
    paths = config_files(options)
    path = paths[0]
    folder = os.path.realpath(options.app_root or os.path.dirname(path))
    if len(paths) > 1 and not all(is_yaml(p) for p in paths):
        raise UsageError("only YAML configs can be layered with several -f: "
                         + ", ".join(str(p) for p in paths if not is_yaml(p))
                         + " is a Procfile")
    if is_yaml(path):
        from orchestra.config.yaml_config import load_yaml_config  # ruamel.yaml: YAML only

        spec, declared, problems = load_yaml_config(paths, folder, options)
    else:
        env_files, problems = project_env_files(options, folder)
        try:
            spec = _load_procfile(path, folder, env_files)
        except ConfigError as exc:
            raise ConfigError(sorted([*problems, *exc.problems], key=by_position)) from None
        declared = spec.names()
    problems.extend(check_spec(spec, declared))
    if problems:
        raise ConfigError(sorted(problems, key=by_position))
    return spec


def _load_procfile(path: str, root: str, env_files: Sequence[EnvFile]) -> Spec:
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
            location=Location(path, entry.line, 1),
        )
        for entry in entries
    )
    return Spec(os.path.realpath(path), SourceKind.PROCFILE, root, services, frozen_env(env),
                secrets)
