"""Nothing outlives orchestra, not even when it is killed with SIGKILL (DESIGN §3.2).

Services run in process groups of their own, so nothing the kernel does on orchestra's death
reaches them by itself. PR_SET_PDEATHSIG would need code in every child before exec (a
`preexec_fn`, which we refuse) and does not cover grandchildren. Instead one watchdog process
(a ~30-line `/bin/sh` script, see `watchdog.WATCHDOG_SCRIPT`) reads the list of live process
groups from a pipe. orchestra is the only writer of that pipe; when orchestra dies for any
reason the kernel closes it, the watchdog sees end-of-file and kills every group still listed.

A service must be known to the watchdog before it can run, yet its pid (and group id) exists
only once it runs. So before each spawn orchestra announces the inode of the service's stdout
pipe, or the path of its pseudo-terminal (`expect`), and lists the group (`track`) right after
the spawn returns, one small write each, before anything else. If orchestra dies in between,
the watchdog kills whatever holds that pipe (or terminal): only the new child can (orchestra's
own fds are closed by then); where there is no /proc that child is not found
(docs/ARCHITECTURE.md). A group is unlisted before its leader
is reaped, so the watchdog never signals a process group id that could have been reused
(except where group members cannot be listed and the leader is reaped first, `groups.py`:
there the id stays reserved while any member is left).

The watchdog also removes the one folder it is told about (the run's notify sockets), so a
SIGKILLed orchestra leaves nothing under the temporary directory either; it removes nothing
else, and nothing once orchestra has said it removed the folder itself.
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

    def expect(self, held: int | str | None) -> None:
        """A service is about to be spawned holding this: its stdout pipe's inode, or the
        path of its pseudo-terminal (`tty: true`); see `spawn.spawn`. None: that spawn
        failed, there is nothing to look for."""
        if isinstance(held, str):
            self._send(b"?" + os.fsencode(held) + b"\n")
        else:
            self._send(b"?\n" if held is None else b"?%d\n" % held)

    def track(self, pgid: int) -> None:
        """List a group; called right after its spawn returned, before anything else."""
        self._send(b"+%d\n" % pgid)

    def untrack(self, pgid: int) -> None:
        """Unlist a group; the caller reaps its leader right after."""
        self._send(b"-%d\n" % pgid)

    def remove_on_death(self, folder: str) -> None:
        """Have the watchdog remove `folder` if orchestra dies without doing it itself.
        A path the line protocol cannot carry (a newline in it) is not sent."""
        data = os.fsencode(folder)
        if b"\n" not in data and data.startswith(b"/"):
            self._send(b"d" + data + b"\n")

    def folder_removed(self) -> None:
        """orchestra removed the folder itself: the watchdog must not touch that path."""
        self._send(b"d\n")

    def _send(self, data: bytes) -> None:
        if self._fd < 0:
            return
        try:
            os.write(self._fd, data)   # a few bytes; the watchdog keeps the pipe empty
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
