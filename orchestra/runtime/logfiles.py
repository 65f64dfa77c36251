"""Each instance's output in a file of its own, for a detached stack: `DIR/NAME.log`.

A file past `max_bytes` is renamed to `NAME.log.1` (replacing the previous one) and a new one
begun, so a chatty service holds at most twice the limit on disk. Files are 0600 in a 0700
folder. What is written is what the service printed, line by line, as `up` would show it
without a prefix.

The writes are made by a queued-writer thread, as stdout's are (`output/writer.py`'s
`QueuedWriter`, here with a write step per file): a slow or stalled disk (a full NFS server,
a USB stick) would otherwise stop the event loop on every line, and with it every service,
signal, timer and check. The loop only queues bytes. Memory stays bounded: when more than
`bound` bytes wait, `on_pressure(True)` asks the owner to stop reading the services' pipes
(they then block on their own writes), and `on_pressure(False)` comes once half has left.
Nothing queued is dropped: `close` writes it all before it returns. A write that fails (a
full disk, a folder removed) loses those lines only; the services go on, unlogged.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from orchestra.output.lines import Run
from orchestra.output.writer import QueuedWriter, write_all

MAX_BYTES = 10 * 1024 * 1024
LOG_SUFFIX = ".log"
ROTATED_SUFFIX = ".log.1"   # the previous file, once the current one passed max_bytes
#: Bytes waiting to be written above which the services' pipes are no longer read.
BOUND = 4 * 1024 * 1024


def forget_earlier_runs(folder: Path, services: Iterable[str]) -> None:
    """Remove what an earlier detached run of these services left in `folder`: `NAME.log`
    and `NAME.log.1` for each service and each of its instances (`web.3` of a run that had
    more replicas), so that `orchestra logs` after this run shows this run only. Other files
    in the folder, and FIFOs or symlinks of these names, are not touched."""
    wanted = set(services)
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    for entry in entries:
        for suffix in (LOG_SUFFIX, ROTATED_SUFFIX):
            if not entry.name.endswith(suffix):
                continue
            name = entry.name[:-len(suffix)]
            service, dot, number = name.partition(".")
            if service in wanted and (not dot or number.isdigit()) and _regular(entry):
                with contextlib.suppress(OSError):
                    entry.unlink()


def _regular(path: Path) -> bool:
    """A plain file, as orchestra writes them: a FIFO or a symlink the user put there to
    send a service's lines elsewhere is theirs, and stays."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


class LogFiles:
    """The log files of a run's instances, written from one thread fed by the event loop."""

    def __init__(self, folder: Path, names: Iterable[str], loop: asyncio.AbstractEventLoop,
                 *, on_pressure: Callable[[bool], None], max_bytes: int = MAX_BYTES,
                 bound: int = BOUND) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        # name → (fd, bytes written); the writer thread's alone once it has started
        self._files: dict[str, tuple[int, int]] = {}
        for name in names:
            self._files[name] = (self._open(name), self._size(name))
        self._writer = QueuedWriter(loop, self._write_batch, name="orchestra-logfiles",
                                    bound=bound, on_pressure=on_pressure)

    def record(self, name: str, stream: str, runs: Sequence[Run]) -> None:
        """Queue the lines of `name`; returns at once. Called on the loop."""
        if name not in self._files:
            return
        data = b"".join(run.text + b"\n" for run in runs)
        self._writer.put(data, name)

    def close(self) -> None:
        """Write everything queued, blocking until it is written, then close the files."""
        self._writer.close()
        for fd, _ in self._files.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._files.clear()

    # ------------------------------------------------------------------ the thread

    def _write_batch(self, batch: list[tuple[str, bytes]]) -> None:
        by_file: dict[str, list[bytes]] = {}
        for name, data in batch:   # one write per file and batch, each file in order
            by_file.setdefault(name, []).append(data)
        for name, parts in by_file.items():
            self._write(name, b"".join(parts))

    def _write(self, name: str, data: bytes) -> None:
        fd, size = self._files[name]
        try:
            if size + len(data) > self.max_bytes and size:
                os.replace(self._path(name), self.folder / f"{name}{ROTATED_SUFFIX}")
                new_fd = self._open(name)
                os.close(fd)
                fd, size = new_fd, 0
            write_all(fd, data)
        except OSError:   # a full disk, a folder removed: the services go on, unlogged
            return
        self._files[name] = (fd, size + len(data))

    # ------------------------------------------------------------------ paths

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
