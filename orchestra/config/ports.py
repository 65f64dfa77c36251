"""Free TCP ports for `port: auto`, reserved across every orchestra the user runs.

The kernel hands out a free port to a socket bound to port 0, but that port is free only at
that instant: orchestra closes the socket, and the service binds the port later. Two
orchestras started at once (two checkouts of one project, side by side) could be handed the
same one. So every pick is written down in a reservation file that every orchestra of the user
reads: `$XDG_RUNTIME_DIR/orchestra-ports/ports`, else `<tempdir>/orchestra-ports-<uid>/ports`, in a
directory of mode 0700, the file of mode 0600. It holds only lines `PORT PID` — nothing from
the environment or a config. A pick locks the file (flock), ignores lines whose pid is gone
(an orchestra that was SIGKILLed cannot clean up), skips the ports still reserved, and adds
its own lines; orchestra's exit takes its lines out again.

Only a config with `port: auto` imports this module (socket, fcntl): `orchestra up` for other
projects never pays for it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import stat
import tempfile
from collections.abc import Callable, Collection, Iterator
from pathlib import Path

from orchestra.config.model import DISCOVERY_HOST as HOST
from orchestra.errors import OrchestraError

#: Tries at most per port wanted, before giving up: the kernel keeps handing out reserved ones.
_ATTEMPTS = 200


class PortError(OrchestraError):
    """No port could be picked or reserved (a private directory that is not private, ...)."""


def free_port() -> int:
    """A port the kernel says is free on 127.0.0.1 now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def runtime_directory() -> Path:
    """The user's private directory for the reservation file (created 0700 if missing)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime) and os.path.isdir(runtime):
        folder = Path(runtime) / "orchestra-ports"
    else:
        folder = Path(tempfile.gettempdir()) / f"orchestra-ports-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    info = folder.lstat()
    # Another user could have made the folder first, in a shared temporary directory.
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise PortError(f"cannot reserve ports for `port: auto`: {folder} is not a private "
                        "directory of this user (mode 0700); remove it and run again")
    return folder


class PortReservations:
    """The reservation file of one user, and the ports this process reserved in it.

    `free_port` and `pid` are seams for tests: where candidate ports come from, and whose
    reservations these are.
    """

    def __init__(self, folder: Path, *, free_port: Callable[[], int] = free_port,
                 pid: int | None = None) -> None:
        self.path = folder / "ports"
        self.free_port = free_port
        self.pid = os.getpid() if pid is None else pid
        self.mine: list[int] = []

    def pick(self, count: int, avoid: Collection[int] = ()) -> list[int]:
        """`count` free ports, none reserved by a live orchestra nor in `avoid` (the fixed
        ports of the config); reserved for this process until `release`."""
        with self._locked() as held:
            entries = _live_entries(held)
            taken = {port for port, _ in entries} | set(avoid) | set(self.mine)
            picked: list[int] = []
            for _ in range(_ATTEMPTS * count):
                if len(picked) == count:
                    break
                port = self.free_port()
                if port not in taken:
                    picked.append(port)
                    taken.add(port)
            if len(picked) < count:
                raise PortError(f"no free port found for `port: auto` after {_ATTEMPTS * count} "
                                "tries")
            _write(held, [*entries, *((port, self.pid) for port in picked)])
        self.mine.extend(picked)
        return picked

    def release(self) -> None:
        """Take this process's lines out of the file (and the lines of dead pids)."""
        if not self.mine:
            return
        with contextlib.suppress(OSError), self._locked() as held:
            _write(held, [(port, pid) for port, pid in _live_entries(held) if pid != self.pid])
        self.mine.clear()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[int]:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            os.close(fd)   # closing releases the lock


def _entries(fd: int) -> list[tuple[int, int]]:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    entries = []
    for line in b"".join(chunks).decode("ascii", "replace").splitlines():
        fields = line.split()
        if len(fields) == 2 and all(f.isascii() and f.isdigit() for f in fields):
            entries.append((int(fields[0]), int(fields[1])))
    return entries


def _live_entries(fd: int) -> list[tuple[int, int]]:
    """The reservations whose orchestra is still there (an unreaped one too: its pid cannot
    be taken by another orchestra yet)."""
    from orchestra.runtime.pid_alive import alive  # a leaf: nothing more is loaded for it

    return [(port, pid) for port, pid in _entries(fd) if alive(pid, zombie_is_alive=True)]


def _write(fd: int, entries: list[tuple[int, int]]) -> None:
    data = "".join(f"{port} {pid}\n" for port, pid in entries).encode("ascii")
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, data)


_reservations: PortReservations | None = None


def pick_ports(count: int, avoid: Collection[int] = ()) -> list[int]:
    """`count` ports for `port: auto`, reserved until orchestra exits (`release_ports`)."""
    global _reservations
    if _reservations is None:
        import atexit

        _reservations = PortReservations(runtime_directory())
        atexit.register(release_ports)
    return _reservations.pick(count, avoid)


def hand_over_ports() -> None:
    """A detached stack's daemon keeps the ports its `up` reserved: their lines move to the
    daemon's pid, since the `up` that picked them exits as soon as the stack is up."""
    held_by = _reservations
    if held_by is None or not held_by.mine:
        return
    old, new = held_by.pid, os.getpid()
    with contextlib.suppress(OSError), held_by._locked() as held:
        _write(held, [(port, new if pid == old else pid) for port, pid in _entries(held)])
    held_by.pid = new


def release_ports() -> None:
    """Called at exit (also by `launch.exit_now`, which skips the interpreter's atexit)."""
    if _reservations is not None:
        _reservations.release()


def taken_since_picked(port: int) -> str | None:
    """Why the service cannot have `port`, if another process listens on it by now (it was
    free when it was picked; the service has not started yet, so the listener is not it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                return None
            return (f"port {port}, picked for `port: auto`, was taken by another process "
                    "before the service started (run again to pick another)")
    return None
