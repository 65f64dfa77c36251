"""The systemd readiness protocol: a datagram socket per service, `NOTIFY_SOCKET` in its env.

The socket lives in a 0700 directory created for this run, so only the user running orchestra
can reach it. On Linux, with SO_PASSCRED the kernel attaches the sender's pid to every datagram,
and a message is accepted only from a process of the service's own process group (as systemd's
`NotifyAccess=all` accepts only the unit's cgroup). A sender that cannot be placed is
rejected: one without credentials, or one that has already exited and been reaped (any
process of the user could have sent it and gone). The real client is alive while its message
is read: `systemd-notify --ready` sends `READY=1`, then `BARRIER=1` with a file descriptor, and
waits until that descriptor is closed, which orchestra does as soon as it has read the message
(every descriptor passed with a message is closed at once).

macOS attaches no sender pid to a datagram (LOCAL_PEERCRED and getpeereid need a connected
stream socket, which the protocol does not use), and FreeBSD's LOCAL_CREDS_PERSISTENT is not
used yet: there the 0700 directory is the only check, so any process of the same user can
report a service ready. docs/CONFIG.md says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
from collections.abc import Callable
from typing import Any

_socket: Any = socket   # SO_PASSCRED, SCM_CREDENTIALS, MSG_CMSG_CLOEXEC: Linux only
#: Whether the kernel tells who sent a datagram.
SENDERS_KNOWN = hasattr(socket, "SO_PASSCRED") and hasattr(socket, "SCM_CREDENTIALS")
_CMSG_CLOEXEC: int = getattr(socket, "MSG_CMSG_CLOEXEC", 0)
_CREDS = struct.Struct("3i")   # struct ucred: pid, uid, gid
_FD = struct.Struct("i")
MAX_DATAGRAM = 4096
#: Room for the sender's credentials and for this many passed descriptors (systemd-notify
#: passes one); descriptors beyond it are discarded by the kernel.
MAX_FDS = 16
_ANCILLARY = socket.CMSG_SPACE(_CREDS.size) + socket.CMSG_SPACE(MAX_FDS * _FD.size)


def parse_message(data: bytes) -> dict[str, str]:
    """`READY=1\\nSTATUS=Listening` → {"READY": "1", "STATUS": "Listening"}."""
    fields = {}
    for line in data.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition("=")
        if sep and key:
            fields[key] = value
    return fields


class NotifySocket:
    def __init__(self, path: str) -> None:
        self.path = path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)   # not inheritable
        self._sock.setblocking(False)
        self._sock.bind(path)
        if SENDERS_KNOWN:
            self._sock.setsockopt(socket.SOL_SOCKET, _socket.SO_PASSCRED, 1)
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
                    MAX_DATAGRAM, _ANCILLARY, _CMSG_CLOEXEC)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            sender = _close_passed_fds(ancillary)
            if self._accepted(sender) and self._on_message is not None:
                self._on_message(parse_message(data))

    def _accepted(self, sender: int | None) -> bool:
        """Only a live (or not yet reaped) process of the service's group may speak for it;
        where the kernel names no sender, any process that can reach the socket."""
        if not SENDERS_KNOWN:
            return True
        if sender is None or sender <= 0:
            return False
        try:
            return os.getpgid(sender) == self._pgid
        except (ProcessLookupError, PermissionError):
            return False

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
        self._sock.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


def _close_passed_fds(ancillary: list[tuple[int, int, bytes]]) -> int | None:
    """Close every descriptor passed with a message (a sender may wait for that, as
    `systemd-notify` does for `BARRIER=1`); returns the sender's pid, if the kernel gave it."""
    sender = None
    for level, kind, payload in ancillary:
        if level != socket.SOL_SOCKET:
            continue
        if SENDERS_KNOWN and kind == _socket.SCM_CREDENTIALS and len(payload) >= _CREDS.size:
            sender = _CREDS.unpack_from(payload)[0]
        elif kind == socket.SCM_RIGHTS:
            for (fd,) in _FD.iter_unpack(payload[:len(payload) - len(payload) % _FD.size]):
                with contextlib.suppress(OSError):
                    os.close(fd)
    return sender
