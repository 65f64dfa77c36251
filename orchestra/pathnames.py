"""Paths on the way to a run's first line are `str`, joined and written as pathlib writes them.

`pathlib` is not imported there: with `urllib.parse` and `ipaddress`, which it imports for
`as_uri`, it is ~2.4 ms of a cold start (docs/PERFORMANCE.md), and the config model, the
command line's options and the runtime need no more of it than joining, a parent and a
suffix. So their paths are strings, and these few helpers keep them as `Path` would have
shown them (`-f ./Procfile` names `/project/Procfile`, not `/project/./Procfile`): no `.`
component, no doubled or trailing slash. `..` is kept, as pathlib keeps it: through a
symbolic link it does not mean the folder written before it. Code off that path (the YAML
loader, export, the file watcher) may use pathlib and pass `str(path)` in.
"""

from __future__ import annotations

import os


def clean(path: str) -> str:
    """`path` as `str(Path(path))` writes it."""
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if path.startswith("//") and not path.startswith("///"):   # POSIX leaves its meaning open
        return "//" + "/".join(parts)
    if path.startswith("/"):
        return "/" + "/".join(parts)
    return "/".join(parts) or "."


def join(base: str, *names: str) -> str:
    """`Path(base, *names)` as a string: an absolute name starts again from itself."""
    return clean(os.path.join(base, *names))


def suffix(path: str) -> str:
    """The final component's extension, as `Path(path).suffix` gives it (`.yaml`)."""
    name = os.path.basename(clean(path))
    dot = name.rfind(".")
    return name[dot:] if 0 < dot < len(name) - 1 else ""
