"""The env-file pass: what the env files give, each file read once per load.

The project's files (`-e`, else `.env` beside the config, unless the config names its own with
a top-level `env_file:`) and the files a service names in its `env_file:`; a problem inside a
file points at its own line, a missing or unreadable file at the YAML line that names it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from orchestra.config.collector import Collector, as_list, dotted
from orchestra.config.envfiles import EnvFile, EnvFileCache, merge_env_files
from orchestra.config.source import PathKey
from orchestra.errors import Problem


def named_env_files(items: Sequence[object], root: Path, cache: EnvFileCache,
                    problems: Collector, path: PathKey) -> dict[str, str]:
    """Env files named in the YAML: relative to the config's folder, and required."""
    files: list[EnvFile] = []
    for item in items:
        env_file, found = cache.read(str(root / str(item)), required=True)
        files.append(env_file)
        for problem in found:
            if problem.location.line is not None:
                reported = Problem(problem.location, problem.field or dotted(path),
                                   problem.message)
            else:
                # No line in the env file (it is missing or unreadable): point at the YAML
                # that names it, and keep its path in the message.
                reported = Problem(problems.source.locate(path), dotted(path),
                                   f"{problem.location.file}: {problem.message}")
            if reported not in problems.problems:   # two services may name one broken file
                problems.problems.append(reported)
    return merge_env_files(files)


def project_file_values(data: dict[str, object], root: Path, project_files: Sequence[EnvFile],
                        cache: EnvFileCache, problems: Collector) -> dict[str, str]:
    """The project's env-file values: `-e`/default `.env` files, then the top-level
    `env_file:` list (later wins). A wrongly typed `env_file` is left to the schema."""
    values = merge_env_files(project_files)
    named = data.get("env_file")
    if isinstance(named, str) or (isinstance(named, list)
                                  and all(isinstance(n, str) for n in named)):
        values.update(named_env_files(as_list(named), root, cache, problems, ("env_file",)))
    return values
