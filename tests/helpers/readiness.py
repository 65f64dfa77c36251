"""Helpers for tests/test_readiness_*.py: free ports, time stamps written by services, and
`python -c` services that know the paths they stamp."""

from __future__ import annotations

import itertools
import socket
import textwrap
from pathlib import Path

from helpers.orch import PY

#: `up` flags for text output that `Result.of()` can parse.
TEXT = ("--no-timestamps", "--no-color")

#: Prepended to every service's code: `stamp(path)` appends `time.time()` as a line, and
#: `wait_for(path)` waits (at most 15 s) until a file exists, so servers end once their
#: dependent has started and every run stays finite.
PRELUDE = textwrap.dedent("""\
    import os, sys, time
    def stamp(path, value=None):
        with open(path, "a") as f:
            f.write(repr(time.time() if value is None else value) + "\\n")
    def wait_for(path, limit=15.0):
        end = time.time() + limit
        while not os.path.exists(path) and time.time() < end:
            time.sleep(0.01)
    """)


def free_port() -> int:
    """A TCP port nobody listens on right now (bind port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def code(body: str, **values: object) -> list[str]:
    """A YAML `command:` list: PRELUDE, then `NAME = repr(value)` for each value, then body."""
    assigns = "".join(f"{k} = {(str(v) if isinstance(v, Path) else v)!r}\n"
                      for k, v in values.items())
    return [PY, "-c", PRELUDE + assigns + textwrap.dedent(body).strip() + "\n"]


def script(folder: Path, name: str, body: str, **values: object) -> list[str]:
    """Like `code`, but written to `folder/name.py`: a check whose description fits one line."""
    path = folder / f"{name}.py"
    path.write_text(code(body, **values)[2])
    return [PY, str(path)]


def stamps(path: Path) -> list[float]:
    """The values a service stamped into `path` ([] if it never wrote)."""
    if not path.exists():
        return []
    return [float(line) for line in path.read_text().split()]


def gaps(values: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(values)]
