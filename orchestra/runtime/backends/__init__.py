"""Watching the processes orchestra started: one interface, a backend per platform.

A service's leader must be seen to exit without a thread per child and without polling, and
must stay unreaped (a zombie) until its process group has been emptied, so that its pid, and
so the group id orchestra signals, cannot be reused meanwhile. How a platform tells a parent
about an exit differs:

- `pidfd` (Linux ≥ 5.3): a pidfd per child, readable once it exited, registered in the event
  loop; `waitid(P_PIDFD, WNOWAIT)` reads the status without reaping.
- `kqueue` (macOS, FreeBSD, OpenBSD): one kqueue in the event loop, an `EVFILT_PROC` /
  `NOTE_EXIT` event per watched pid.
- `posix` (anything else): a SIGCHLD handler on the loop, then `waitid(P_PID, WNOHANG|WNOWAIT)`
  (or, where there is no waitid, `waitpid(WNOHANG)`) for the pids orchestra started, and only
  those: never a wildcard wait that could reap someone else's child.

The backend is chosen once, at start-up, by what the platform offers, or forced with
`ORCHESTRA_PROCESS_BACKEND=pidfd|kqueue|posix`. One instance serves one event loop
(`for_loop`): the posix backend owns that loop's SIGCHLD handler.
"""

from __future__ import annotations

import asyncio
import os
import select
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import ClassVar

from orchestra.errors import OrchestraError

VARIABLE = "ORCHESTRA_PROCESS_BACKEND"
NAMES = ("pidfd", "kqueue", "posix")

#: How a process ended: (code as a shell reports it, 128+N for signal N; the killing signal).
Status = tuple[int, int | None]


class BackendError(OrchestraError):
    """`ORCHESTRA_PROCESS_BACKEND` names a backend this platform cannot run."""

    exit_code = 2


class ProcessBackend(ABC):
    """What the runtime needs to know about its processes' ends."""

    name: ClassVar[str]
    #: False where the status can only be read by reaping (no waitid): the leader's pid, and
    #: so its group id, is then free for reuse as soon as its exit is seen.
    keeps_zombie: ClassVar[bool] = True

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    @abstractmethod
    def watch(self, pid: int, on_exit: Callable[[], None]) -> None:
        """Call `on_exit` once, on the loop, when the child `pid` has exited (unreaped)."""

    @abstractmethod
    def unwatch(self, pid: int) -> None:
        """Forget a watch that has not fired (the caller no longer cares)."""

    @abstractmethod
    def status(self, pid: int) -> Status:
        """The status of the exited child `pid`, leaving it unreaped where `keeps_zombie`."""

    @abstractmethod
    def reap(self, pid: int) -> Status:
        """Reap the exited child `pid` (its pid and group id may be reused from now on)."""

    @abstractmethod
    async def gone(self, pids: list[int], timeout: float) -> bool:
        """Wait until every pid (any process, not only children) has exited, at most
        `timeout` seconds; True if they all did."""

    async def exited(self, pid: int, timeout: float) -> bool:
        """Wait at most `timeout` seconds for the child `pid` to exit (it stays unreaped)."""
        done: asyncio.Future[None] = self._loop.create_future()

        def resolve() -> None:
            if not done.done():
                done.set_result(None)

        self.watch(pid, resolve)
        try:
            await asyncio.wait_for(asyncio.shield(done), timeout)
        except TimeoutError:
            self.unwatch(pid)
            return False
        return True


def from_waitid(result: os.waitid_result | None) -> Status:
    assert result is not None   # None only with WNOHANG, which callers check themselves
    if result.si_code == os.CLD_EXITED:
        return result.si_status, None
    return 128 + result.si_status, result.si_status


def from_wait_status(raw: int) -> Status:
    if os.WIFSIGNALED(raw):
        return 128 + os.WTERMSIG(raw), os.WTERMSIG(raw)
    return os.waitstatus_to_exitcode(raw) & 0xFF, None


def available() -> list[str]:
    """The backends this platform can run, best first."""
    names = []
    if hasattr(os, "pidfd_open") and hasattr(os, "P_PIDFD"):
        try:
            os.close(os.pidfd_open(os.getpid()))   # the kernel may be older than the libc
            names.append("pidfd")
        except OSError:
            pass
    if hasattr(select, "kqueue"):
        names.append("kqueue")
    names.append("posix")
    return names


def choose(environ: Mapping[str, str]) -> str:
    """The backend's name: forced by the variable, else the best the platform has."""
    forced = environ.get(VARIABLE, "")
    names = available()
    if not forced:
        return names[0]
    if forced not in NAMES:
        raise BackendError(f"{VARIABLE}={forced}: not a process backend "
                           f"(choose {', '.join(NAMES)})")
    if forced not in names:
        raise BackendError(f"{VARIABLE}={forced}: not available on this platform "
                           f"(available: {', '.join(names)})")
    return forced


_chosen: str | None = None
_per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ProcessBackend] = \
    weakref.WeakKeyDictionary()


def select_backend(environ: Mapping[str, str]) -> str:
    """Choose at start-up (a bad value fails before anything starts); used by `for_loop`."""
    global _chosen
    _chosen = choose(environ)
    return _chosen


def for_loop(loop: asyncio.AbstractEventLoop | None = None) -> ProcessBackend:
    """The running loop's backend, made on first use."""
    loop = loop or asyncio.get_running_loop()
    backend = _per_loop.get(loop)
    if backend is None:
        name = _chosen or select_backend(os.environ)
        backend = _per_loop[loop] = make(name, loop)
    return backend


def make(name: str, loop: asyncio.AbstractEventLoop) -> ProcessBackend:
    """A backend by name, for `loop` (`for_loop` keeps one per loop)."""
    if name == "pidfd":
        from orchestra.runtime.backends.pidfd import PidfdBackend

        return PidfdBackend(loop)
    if name == "kqueue":
        from orchestra.runtime.backends.kqueue import KqueueBackend

        return KqueueBackend(loop)
    from orchestra.runtime.backends.posix import PosixBackend

    return PosixBackend(loop)
