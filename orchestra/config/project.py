"""Where the project is: the command line's view of it, its config file, its env files."""

# Annotations are evaluated here, not kept as strings: see orchestra/records.py.

import os
from collections.abc import Mapping
from typing import NamedTuple

from orchestra.config.envfiles import EnvFile, EnvFileCache, read_env_file
from orchestra.errors import ConfigError, Problem
from orchestra.pathnames import join, suffix

CANDIDATES = ("orchestra.yaml", "orchestra.yml", "Procfile")
#: Read over orchestra.yaml/.yml found by discovery (not over files named with -f), as
#: compose reads docker-compose.override.yml: personal settings, kept out of version control.
OVERRIDES = ("orchestra.override.yaml", "orchestra.override.yml")


class _Where(NamedTuple):
    file: str | None                      # -f/--file (alias --procfile): the first
    overrides: tuple[str, ...]            # further -f files, merged over it in order
    env_files: tuple[str, ...] | None     # -e/--env-file; None: `.env` beside the file
    app_root: str | None                  # -d/--app-root
    cwd: str
    environ: Mapping[str, str]
    base_port: int | None                 # -p/--port: `${PORT}` where `port:` is unset


class LoadOptions(_Where):
    """What the command line says about where the project is; `cwd` and `environ` default
    to the process's own.

    A NamedTuple (change one with `_replace`), not a frozen dataclass: it is made once, on
    the way to every run's first line, where a dataclass costs ~0.7 ms to create (see
    runtime/events.py). This subclass gives the two defaults a NamedTuple cannot."""

    __slots__ = ()

    def __new__(cls, file: str | None = None, overrides: tuple[str, ...] = (),
                env_files: tuple[str, ...] | None = None, app_root: str | None = None,
                cwd: str | None = None, environ: Mapping[str, str] | None = None,
                base_port: int | None = None) -> "LoadOptions":
        return super().__new__(cls, file, overrides, env_files, app_root,
                               os.getcwd() if cwd is None else cwd,
                               dict(os.environ) if environ is None else environ, base_port)


def discover(options: LoadOptions) -> str:
    """The config file: `-f`, else orchestra.yaml / orchestra.yml / Procfile in the folder."""
    base = options.app_root or options.cwd
    if options.file is not None:
        return join(base, options.file)   # an absolute file stays itself
    # honcho: PROCFILE from the environment, or from the .env files, names the Procfile
    named = options.environ.get("PROCFILE") or _procfile_from_env_files(options, base)
    if named:
        return join(base, named)
    for name in CANDIDATES:
        if os.path.exists(join(base, name)):
            return join(base, name)
    raise ConfigError.single(str(base), "no orchestra.yaml, orchestra.yml or Procfile here "
                                        "(name one with -f FILE)")


def config_files(options: LoadOptions) -> list[str]:
    """The config files, in merge order: every `-f`, else the discovered file and, when it is
    orchestra.yaml/.yml, the override file beside it (if there is one)."""
    first = discover(options)
    if options.file is not None:
        base = options.app_root or options.cwd
        return [first, *(join(base, p) for p in options.overrides)]
    folder = os.path.dirname(first)
    if not is_yaml(first):
        _refuse_an_override_of_nothing(folder)
        return [first]
    for name in OVERRIDES:
        if os.path.isfile(join(folder, name)):
            return [first, join(folder, name)]
    return [first]


def _refuse_an_override_of_nothing(folder: str) -> None:
    """A Procfile cannot be layered: an override file beside it, with no orchestra.yaml to
    be read over, would be ignored without a word (and the run go without what it adds)."""
    if any(os.path.exists(join(folder, name)) for name in CANDIDATES if is_yaml(name)):
        return   # it belongs to the orchestra.yaml there ($PROCFILE chose the Procfile)
    for name in OVERRIDES:
        if os.path.isfile(join(folder, name)):
            raise ConfigError.single(
                join(folder, name), f"{name} is read over orchestra.yaml only, and here the "
                "config is a Procfile, which cannot be layered: write an orchestra.yaml "
                "(docs/MIGRATING.md), or move this file away")


def config_exists(options: LoadOptions) -> bool:
    """Whether there is a config to load: `-f` names one (missing or not: loading says so),
    or one is found where `discover` looks."""
    if options.file is not None:
        return True
    try:
        return os.path.exists(discover(options))
    except ConfigError:
        return False


def _procfile_from_env_files(options: LoadOptions, base: str) -> str | None:
    paths = [join(base, ".env")] if options.env_files is None else [
        join(base, p) for p in options.env_files]   # an absolute p stays itself
    named = None
    for path in paths:
        try:
            named = read_env_file(path, required=False).values.get("PROCFILE", named)
        except ConfigError:
            continue  # reported with its line when the env files are loaded for real
    return named


def is_yaml(path: str) -> bool:
    return suffix(path).lower() in (".yaml", ".yml")


def project_env_files(options: LoadOptions, folder: str, cache: EnvFileCache | None = None,
                      ) -> tuple[list[EnvFile], list[Problem]]:
    """`-e A,B` (required, later wins), else `.env` in the config's folder if present; with
    the problems found in them (what parsed is still returned, to check the rest with)."""
    if options.env_files is None:
        paths, required = [join(folder, ".env")], False
    else:
        base = options.app_root or options.cwd
        paths, required = [join(base, p) for p in options.env_files], True
    cache = cache or EnvFileCache()
    files: list[EnvFile] = []
    problems: list[Problem] = []
    for path in paths:
        env_file, found = cache.read(path, required=required)
        files.append(env_file)
        problems.extend(found)
    return files, problems
