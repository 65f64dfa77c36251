"""Nothing outlives orchestra, not even when it is killed with SIGKILL (DESIGN §3.2).

Services run in process groups of their own, so nothing the kernel does on orchestra's death
reaches them by itself. PR_SET_PDEATHSIG would need code in every child before exec (a
`preexec_fn`, which we refuse) and does not cover grandchildren. Instead one watchdog process
(a ~20-line `/bin/sh` script, see `spawn.WATCHDOG_SCRIPT`) reads the list of live process
groups from a pipe. orchestra is the only writer of that pipe; when orchestra dies for any
reason the kernel closes it, the watchdog sees end-of-file and kills every group still listed.

A group is unlisted before its leader is reaped, so the watchdog never signals a process group
id that could have been reused. Listings are batched per event-loop iteration (at most
`BATCH` at a time): starting 200 services then wakes the watchdog a few times instead of 200,
and a SIGKILL that lands in the same iteration as a spawn is the only case a group could miss.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess

from orchestra.runtime.spawn import spawn_watchdog

BATCH = 16


class Lifeline:
    def __init__(self) -> None:
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._fd = -1
        self._pending: list[str] = []

    def start(self) -> None:
        self._watchdog, self._fd = spawn_watchdog()

    def track(self, pgid: int) -> None:
        self._pending.append(f"+{pgid}\n")
        if len(self._pending) >= BATCH:
            self.flush()
        elif len(self._pending) == 1:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # no loop (a probe outside the runtime): write now
                self.flush()

    def untrack(self, pgid: int) -> None:
        """Written at once: the caller reaps the leader right after."""
        self._pending.append(f"-{pgid}\n")
        self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        data = "".join(self._pending).encode()
        self._pending.clear()
        if self._fd < 0:
            return
        try:
            os.write(self._fd, data)
        except OSError:
            # The watchdog is gone (someone killed it); orchestra still stops its services
            # itself on every exit path except its own SIGKILL.
            os.close(self._fd)
            self._fd = -1

    def close(self, timeout: float = 2.0) -> None:
        """Normal exit: every group was unlisted, so the watchdog just ends. Reap it."""
        with contextlib.suppress(OSError):
            self.flush()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._watchdog is not None:
            try:
                self._watchdog.wait(timeout)
            except subprocess.TimeoutExpired:
                self._watchdog.kill()
                self._watchdog.wait()
            self._watchdog = None
