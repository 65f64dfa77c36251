"""orchestra's own standard streams, checked before anything else runs.

A closed fd 0, 1 or 2 (`orchestra up >&-`) is worse than it looks: Python sets `sys.stdout` to
None, and the next file orchestra opens — a child's pipe, the lifeline's pipe — takes the free
number, so output meant for the terminal would go into it, and a child would inherit it as its
own stdout. So a closed stdin or stderr is filled with /dev/null (the user asked for no input,
or to see no messages), and a closed stdout is refused with one line: every command exists to
print something there, and `up` would have nowhere to show its services.

Kept free of heavy imports: `orchestra.launch` calls it on the fast path too.
"""

from __future__ import annotations

import os
import sys
from typing import TextIO, cast

#: Exit code when stdout is closed: a runtime failure (1), as for a write that fails later.
CLOSED_STDOUT_EXIT = 1


def _closed(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return True
    return False


def _fill_with_devnull(fd: int, mode: str) -> TextIO:
    """Open /dev/null as `fd` (the lowest free number is the closed one, so dup2 for safety)."""
    flags = os.O_RDONLY if mode == "r" else os.O_WRONLY
    null = os.open(os.devnull, flags)
    if null != fd:
        os.dup2(null, fd)
        os.close(null)
    return cast(TextIO, open(fd, mode, encoding="utf-8", errors="replace", closefd=False))


def check_standard_streams() -> None:
    """Make fds 0 and 2 safe if they are closed; exit with one line if stdout is closed."""
    if _closed(0):
        sys.stdin = _fill_with_devnull(0, "r")
    if _closed(2):
        sys.stderr = _fill_with_devnull(2, "w")
    if _closed(1):
        _fill_with_devnull(1, "w")   # so that no later file takes its number on the way out
        sys.stderr.write("error: standard output is closed; nothing was started\n")
        sys.stderr.flush()
        raise SystemExit(CLOSED_STDOUT_EXIT)


def abandon_stdout() -> None:
    """After a write to stdout failed: point fd 1 at /dev/null, so that the data still
    buffered in `sys.stdout` cannot fail again (with a second message) when Python exits."""
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.close(null)
