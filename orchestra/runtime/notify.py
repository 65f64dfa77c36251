"""The systemd readiness protocol: a datagram socket per service, `NOTIFY_SOCKET` in its env.

The socket lives in a 0700 directory created for this run, so only the user running orchestra
can reach it. With SO_PASSCRED the kernel attaches the sender's pid to every datagram; messages
from a process that is alive and outside the service's process group are rejected. (A sender
that has already exited — `systemd-notify` often has — cannot be placed, and is accepted.)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
from collections.abc import Callable
from pathlib import Path

_CREDS = struct.Struct("3i")   # struct ucred: pid, uid, gid
MAX_DATAGRAM = 4096


def parse_message(data: bytes) -> dict[str, str]:
    """`READY=1\\nSTATUS=Listening` → {"READY": "1", "STATUS": "Listening"}."""
    fields = {}
    for line in data.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition("=")
        if sep and key:
            fields[key] = value
    return fields


class NotifySocket:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self._sock.setblocking(False)
        self._sock.bind(str(path))
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self._pgid: int | None = None
        self._on_message: Callable[[dict[str, str]], None] | None = None

    def listen(self, pgid: int, on_message: Callable[[dict[str, str]], None]) -> None:
        self._pgid = pgid
        self._on_message = on_message
        asyncio.get_running_loop().add_reader(self._sock.fileno(), self._read)

    def _read(self) -> None:
        while True:
            try:
                data, ancillary, _, _ = self._sock.recvmsg(
                    MAX_DATAGRAM, socket.CMSG_SPACE(_CREDS.size))
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if self._accepted(ancillary) and self._on_message is not None:
                self._on_message(parse_message(data))

    def _accepted(self, ancillary: list[tuple[int, int, bytes]]) -> bool:
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid, _, _ = _CREDS.unpack(payload[:_CREDS.size])
                try:
                    return os.getpgid(pid) == self._pgid
                except ProcessLookupError:
                    return True
        return False

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
        self._sock.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
