"""`orchestra logs` once a detached stack has ended: the files it wrote, read from disk.

A stack started with `up --detach` writes each instance's lines to `NAME.log` (and
`NAME.log.1` once rotated) in its log folder (`runtime/logfiles.py`). When no stack answers
at the project's socket, `logs` reads them instead. The folder is found again rather than
remembered: `--log-dir` as given to `logs`, else the default one, derived from the project's
name and `$XDG_STATE_HOME` as `up --detach` derives it. Nothing is written to disk to find it,
so no value from the environment ever reaches a file.
"""

from __future__ import annotations

import collections
import fnmatch
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from orchestra.errors import OrchestraError
from orchestra.runtime.detach import state_folder
from orchestra.runtime.logfiles import LOG_SUFFIX, ROTATED_SUFFIX


def log_folder(project: str, log_dir: Path | None) -> Path:
    """Where a detached stack of `project` wrote its files, or would have."""
    return log_dir if log_dir is not None else state_folder(project, os.environ)


def instances(folder: Path) -> list[str]:
    """The instances that have a log file in `folder`, by name; none if it is not readable."""
    try:
        names = {entry.name[:-len(LOG_SUFFIX)] for entry in folder.iterdir()
                 if entry.name.endswith(LOG_SUFFIX) and entry.is_file()}
    except OSError:
        return []
    return sorted(names)


def select(names: Sequence[str], patterns: Sequence[str], folder: Path) -> list[str]:
    """The instances matching `patterns` (an instance's name or its service's, globs
    allowed), as the running stack selects them; all for none."""
    if not patterns:
        return list(names)
    chosen = [name for name in names
              if any(fnmatch.fnmatchcase(name, pattern)
                     or fnmatch.fnmatchcase(name.split(".")[0], pattern)
                     for pattern in patterns)]
    unknown = [pattern for pattern in patterns
               if not any(fnmatch.fnmatchcase(name, pattern)
                          or fnmatch.fnmatchcase(name.split(".")[0], pattern)
                          for name in names)]
    if unknown:
        raise OrchestraError(f"no log file for {', '.join(unknown)} in {folder} "
                             f"(there are: {', '.join(names)})")
    return chosen


def lines(folder: Path, name: str, tail: int | None) -> Iterator[str]:
    """An instance's lines, oldest first (the rotated file, then the current one); only the
    last `tail` of them if given. Read as the stack wrote them: bytes, decoded for display."""
    def every_line() -> Iterator[str]:
        for path in (folder / f"{name}{ROTATED_SUFFIX}", folder / f"{name}{LOG_SUFFIX}"):
            try:
                with open(path, "rb") as file:
                    for line in file:
                        yield line.rstrip(b"\n").decode("utf-8", "replace")
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise OrchestraError(f"cannot read {path}: {exc.strerror or exc}") from None

    if tail is None:
        yield from every_line()
    else:
        yield from collections.deque(every_line(), maxlen=tail)
