"""Nothing outlives orchestra, not even when it is killed with SIGKILL (DESIGN §3.2).

Services run in process groups of their own, so nothing the kernel does on orchestra's death
reaches them by itself. PR_SET_PDEATHSIG would need code in every child before exec (a
`preexec_fn`, which we refuse) and does not cover grandchildren. Instead one watchdog process
(a ~20-line `/bin/sh` script, see `spawn.WATCHDOG_SCRIPT`) reads the list of live process
groups from a pipe. orchestra is the only writer of that pipe; when orchestra dies for any
reason the kernel closes it, the watchdog sees end-of-file and kills every group still listed.

A group is listed before its leader can run (right after spawn) and unlisted before its
leader is reaped, so the watchdog never signals a process group id that could have been reused.
"""

from __future__ import annotations

import os
import subprocess

from orchestra.runtime.spawn import spawn_watchdog


class Lifeline:
    def __init__(self) -> None:
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._fd = -1

    def start(self) -> None:
        self._watchdog, self._fd = spawn_watchdog()

    @property
    def pid(self) -> int | None:
        return self._watchdog.pid if self._watchdog else None

    def track(self, pgid: int) -> None:
        self._send(f"+{pgid}\n")

    def untrack(self, pgid: int) -> None:
        self._send(f"-{pgid}\n")

    def _send(self, line: str) -> None:
        if self._fd < 0:
            return
        try:
            os.write(self._fd, line.encode())
        except OSError:
            # The watchdog is gone (someone killed it); orchestra still stops its services
            # itself on every exit path except its own SIGKILL.
            os.close(self._fd)
            self._fd = -1

    def close(self, timeout: float = 2.0) -> None:
        """Normal exit: every group was unlisted, so the watchdog just ends. Reap it."""
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
