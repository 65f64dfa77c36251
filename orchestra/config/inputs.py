"""Which files a load looked at, so a compiled invocation knows when it is out of date.

Readers call `note(path)` for every file or directory they consult — including ones that turned
out to be missing, since their appearing later changes the result. Outside `recording()` a note
costs one context-variable read.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

_recorder: ContextVar[list[Path] | None] = ContextVar("orchestra_inputs", default=None)


def note(path: Path) -> None:
    recorded = _recorder.get()
    if recorded is not None:
        recorded.append(path)


@contextlib.contextmanager
def recording() -> Iterator[list[Path]]:
    recorded: list[Path] = []
    token = _recorder.set(recorded)
    try:
        yield recorded
    finally:
        _recorder.reset(token)


def fingerprint(path: Path) -> str:
    """'missing', or where the path really leads plus 'dir' or the sha256 of the content.

    The real path counts: a symlink retargeted to another release (`current -> v2`) changes
    what a plan refers to even when the files there have the same content.
    """
    try:
        real = os.path.realpath(path)
        if path.is_dir():
            return f"dir:{real}"
        return f"{hashlib.sha256(path.read_bytes()).hexdigest()}:{real}"
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"error:{exc.errno}"
