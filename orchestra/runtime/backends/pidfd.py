"""Linux ≥ 5.3: a pidfd per process, registered in the event loop (readable once it exited)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

from orchestra.runtime.backends import ProcessBackend, Status, from_wait_status, from_waitid

_os: Any = os   # pidfd_open and P_PIDFD exist on Linux only


class PidfdBackend(ProcessBackend):
    name = "pidfd"

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self._fds: dict[int, int] = {}

    def watch(self, pid: int, on_exit: Callable[[], None]) -> None:
        fd = self._fds.get(pid)
        if fd is None:
            fd = self._fds[pid] = _os.pidfd_open(pid)
        self._loop.add_reader(fd, self._fire, fd, on_exit)

    def _fire(self, fd: int, on_exit: Callable[[], None]) -> None:
        self._loop.remove_reader(fd)
        on_exit()

    def unwatch(self, pid: int) -> None:
        fd = self._fds.get(pid)
        if fd is not None:
            self._loop.remove_reader(fd)

    def status(self, pid: int) -> Status:
        # WNOWAIT: read the status but leave the leader a zombie, so its pid and process
        # group id cannot be reused while the group is still signalled.
        return from_waitid(os.waitid(_os.P_PIDFD, self._fd(pid), os.WEXITED | os.WNOWAIT))

    def reap(self, pid: int) -> Status:
        fd = self._fds.pop(pid, None)
        if fd is None:
            return from_wait_status(os.waitpid(pid, 0)[1])   # never watched
        try:
            self._loop.remove_reader(fd)
            return from_waitid(os.waitid(_os.P_PIDFD, fd, os.WEXITED))
        finally:
            os.close(fd)

    def _fd(self, pid: int) -> int:
        fd = self._fds.get(pid)
        if fd is None:
            fd = self._fds[pid] = _os.pidfd_open(pid)
        return fd

    async def gone(self, pids: list[int], timeout: float) -> bool:
        waiters: list[asyncio.Future[None]] = []
        fds: list[int] = []
        for pid in pids:
            try:
                fd = _os.pidfd_open(pid)
            except ProcessLookupError:
                continue
            fds.append(fd)
            waiter: asyncio.Future[None] = self._loop.create_future()
            self._loop.add_reader(fd, _resolve, self._loop, fd, waiter)
            waiters.append(waiter)
        try:
            if not waiters:
                return True
            _, pending = await asyncio.wait(waiters, timeout=timeout)
            return not pending
        finally:
            for fd in fds:
                self._loop.remove_reader(fd)
                os.close(fd)


def _resolve(loop: asyncio.AbstractEventLoop, fd: int, waiter: asyncio.Future[None]) -> None:
    loop.remove_reader(fd)
    if not waiter.done():
        waiter.set_result(None)
