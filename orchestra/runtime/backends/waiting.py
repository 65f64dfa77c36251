"""Reading a child's status by pid, for the backends that have no pidfd.

`waitid(P_PID, pid, WEXITED | WNOWAIT)` (Linux, macOS, the BSDs) reads the status and leaves
the child a zombie, as the pidfd backend does. Where the platform has no waitid, the status
can only be read by reaping (`waitpid`): it is kept here until the runtime asks to reap, and
the pid is free for reuse from the exit on (see `ProcessBackend.keeps_zombie`). Only the pid
asked about is ever waited for: never -1, never a child orchestra did not start.
"""

from __future__ import annotations

import os

from orchestra.runtime.backends import Status, from_wait_status, from_waitid

HAS_WAITID = hasattr(os, "waitid") and hasattr(os, "WNOWAIT") and hasattr(os, "P_PID")


class ChildStatuses:
    def __init__(self) -> None:
        self._reaped: dict[int, Status] = {}   # read by reaping, where there is no waitid

    def peek(self, pid: int) -> Status | None:
        """The status if `pid` has exited, else None; never blocks."""
        if pid in self._reaped:
            return self._reaped[pid]
        try:
            if HAS_WAITID:
                result = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
                return None if result is None else from_waitid(result)
            got, raw = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return None   # reaped already by whoever owns it; its watcher is told elsewhere
        if got == 0:
            return None
        status = self._reaped[pid] = from_wait_status(raw)
        return status

    def status(self, pid: int) -> Status:
        """The status of an exited child, unreaped where waitid allows."""
        if pid in self._reaped:
            return self._reaped[pid]
        if HAS_WAITID:
            return from_waitid(os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT))
        status = self._reaped[pid] = from_wait_status(os.waitpid(pid, 0)[1])
        return status

    def reap(self, pid: int) -> Status:
        status = self._reaped.pop(pid, None)
        if status is not None:
            return status
        return from_wait_status(os.waitpid(pid, 0)[1])
