"""Any POSIX system: a SIGCHLD handler on the event loop, then a look at the known pids.

The handler runs on the loop (asyncio's signal wake-up fd), not in signal context. A SIGCHLD
says only that some child changed state, and several exits may arrive as one signal, so each
one checks every watched pid, without waiting and without reaping where waitid can leave the
child a zombie (`waiting.ChildStatuses`). Processes that are not orchestra's children (what is
left in a group after its leader exited) give no signal at all: `gone` looks at them at a
growing interval (1 ms to 50 ms) until they are gone or the deadline passes.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from orchestra.runtime.backends import ProcessBackend, Status
from orchestra.runtime.backends.waiting import HAS_WAITID, ChildStatuses

MAX_INTERVAL = 0.05


class PosixBackend(ProcessBackend):
    name = "posix"
    keeps_zombie = HAS_WAITID

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self._statuses = ChildStatuses()
        self._watched: dict[int, Callable[[], None]] = {}
        self._check_scheduled = False
        loop.add_signal_handler(signal.SIGCHLD, self._check)

    def watch(self, pid: int, on_exit: Callable[[], None]) -> None:
        self._watched[pid] = on_exit
        # It may have exited before it was watched: its SIGCHLD came and went.
        if not self._check_scheduled:
            self._check_scheduled = True
            self._loop.call_soon(self._check)

    def unwatch(self, pid: int) -> None:
        self._watched.pop(pid, None)

    def _check(self) -> None:
        self._check_scheduled = False
        for pid in list(self._watched):
            if self._statuses.peek(pid) is not None:
                on_exit = self._watched.pop(pid, None)
                if on_exit is not None:
                    on_exit()

    def status(self, pid: int) -> Status:
        return self._statuses.status(pid)

    def reap(self, pid: int) -> Status:
        self._watched.pop(pid, None)
        return self._statuses.reap(pid)

    async def gone(self, pids: list[int], timeout: float) -> bool:
        deadline = self._loop.time() + timeout
        interval = 0.001
        from orchestra.runtime.pid_alive import alive

        left = [pid for pid in pids if alive(pid, zombie_is_alive=False)]
        while left:
            remaining = deadline - self._loop.time()
            if remaining <= 0:
                return False
            await asyncio.sleep(min(interval, remaining))
            interval = min(interval * 2, MAX_INTERVAL)
            left = [pid for pid in left if alive(pid, zombie_is_alive=False)]
        return True

