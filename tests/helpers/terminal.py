"""Drive a real process from a pseudo-terminal, as a user at a terminal would.

The process gets the pty's slave as stdin, stdout and stderr, in a session of its own whose
controlling terminal is that pty (`setsid -c`), so it is the terminal's foreground process
group: ^C typed on the master becomes its SIGINT, and a resize of the pty its SIGWINCH.
A thread collects everything written to the terminal; every wait has a deadline.
"""

from __future__ import annotations

import fcntl
import os
import re
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path


def set_size(fd: int, rows: int, columns: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


class OnTerminal:
    def __init__(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str], *,
                 size: tuple[int, int] = (24, 80)) -> None:
        self.master, slave = os.openpty()
        set_size(slave, *size)
        self.proc = subprocess.Popen(["setsid", "-c", *argv], cwd=cwd, env=dict(env),
                                     stdin=slave, stdout=slave, stderr=slave)
        os.close(slave)
        self._seen = bytearray()
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()

    def _pump(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:   # EIO: every holder of the slave closed it
                chunk = b""
            with self._cond:
                if not chunk:
                    self._cond.notify_all()
                    return
                self._seen.extend(chunk)
                self._cond.notify_all()

    @property
    def seen(self) -> bytes:
        with self._cond:
            return bytes(self._seen)

    def text(self) -> str:
        return self.seen.decode("utf-8", "replace")

    def wait_for(self, pattern: str | bytes, timeout: float = 10.0) -> re.Match[bytes]:
        """The first match of `pattern` (a regex) in what the terminal has shown."""
        regex = re.compile(pattern.encode() if isinstance(pattern, str) else pattern, re.M)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                match = regex.search(bytes(self._seen))
                if match:
                    return match
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._reader.is_alive():
                    raise AssertionError(
                        f"{regex.pattern!r} not shown within {timeout:g} s "
                        f"(rc={self.proc.poll()}):\n{bytes(self._seen)[-4000:]!r}")
                self._cond.wait(min(remaining, 0.2))

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    def resize(self, rows: int, columns: int) -> None:
        """Resize the terminal; the kernel sends SIGWINCH to its foreground process group."""
        set_size(self.master, rows, columns)

    def wait(self, timeout: float = 15.0) -> int:
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running after {timeout:g} s:\n"
                                 f"{self.seen[-4000:]!r}") from None
        self._reader.join(5)
        return rc

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self._reader.join(5)
        os.close(self.master)
