"""Each instance's output in a file of its own, for a detached stack: `DIR/NAME.log`.

A file past `max_bytes` is renamed to `NAME.log.1` (replacing the previous one) and a new one
begun, so a chatty service holds at most twice the limit on disk. Files are 0600 in a 0700
folder. What is written is what the service printed, line by line, as `up` would show it
without a prefix.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from orchestra.output.lines import Run

MAX_BYTES = 10 * 1024 * 1024
LOG_SUFFIX = ".log"
ROTATED_SUFFIX = ".log.1"   # the previous file, once the current one passed max_bytes


class LogFiles:
    def __init__(self, folder: Path, names: Iterable[str], max_bytes: int = MAX_BYTES) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self._files: dict[str, tuple[int, int]] = {}   # name → (fd, bytes written)
        for name in names:
            self._files[name] = (self._open(name), self._size(name))

    def _path(self, name: str) -> Path:
        return self.folder / f"{name}{LOG_SUFFIX}"

    def _open(self, name: str) -> int:
        return os.open(self._path(name), os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC,
                       0o600)

    def _size(self, name: str) -> int:
        try:
            return self._path(name).stat().st_size
        except OSError:
            return 0

    def record(self, name: str, stream: str, runs: Sequence[Run]) -> None:
        entry = self._files.get(name)
        if entry is None:
            return
        fd, size = entry
        data = b"".join(run.text + b"\n" for run in runs)
        try:
            if size + len(data) > self.max_bytes and size:
                os.replace(self._path(name), self.folder / f"{name}{ROTATED_SUFFIX}")
                new_fd = self._open(name)
                os.close(fd)
                fd, size = new_fd, 0
            os.write(fd, data)
        except OSError:   # a full disk, a folder removed: the services go on, unlogged
            return
        self._files[name] = (fd, size + len(data))

    def close(self) -> None:
        for fd, _ in self._files.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._files.clear()
