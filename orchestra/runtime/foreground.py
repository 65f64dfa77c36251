"""`orchestra run [--with SVC] -- CMD`: the command that runs attached to the terminal.

The command gets a process group of its own, as a shell's job does, and while it runs that group
is the terminal's foreground group: it can read the terminal, a terminal's Ctrl-C reaches it
and its children (and not orchestra), and its output goes to orchestra's stdout and stderr
untouched. Signals sent to orchestra (SIGTERM, SIGHUP, SIGINT from `kill`) are forwarded to the
command's whole group; if it has not ended within the stop timeout after that, the group gets
SIGKILL (`-t`: the time between the stop signal and SIGKILL, as for services). The group is
tracked by the lifeline like every service's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping

from orchestra.runtime.backends import ProcessBackend, for_loop
from orchestra.runtime.groups import signal_group
from orchestra.runtime.lifeline import Lifeline
from orchestra.runtime.settings import ForegroundCommand
from orchestra.runtime.spawn import SpawnError, spawn_attached


def _controlling_terminal() -> int | None:
    """stdin's fd when it is a terminal whose foreground group is orchestra's own."""
    try:
        fd = sys.stdin.fileno()
        if os.isatty(fd) and os.tcgetpgrp(fd) == os.getpgrp():
            return fd
    except (OSError, ValueError):
        pass
    return None


@contextlib.contextmanager
def _foreground(pgid: int) -> Iterator[None]:
    """Hand the terminal to the group `pgid` for the duration, then take it back."""
    terminal = _controlling_terminal()
    if terminal is None:
        yield
        return
    # tcsetpgrp from a background group raises SIGTTOU: block it while we take the terminal.
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTTOU])
    try:
        os.tcsetpgrp(terminal, pgid)
        signal_group(pgid, signal.SIGCONT)   # in case it touched the terminal before this
        yield
    finally:
        with contextlib.suppress(OSError):
            os.tcsetpgrp(terminal, os.getpgrp())
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class ForegroundRun:
    """`report` shows orchestra's own message about the command (it could not be started),
    through a multiplexer (so `--output json` stays JSON)."""

    def __init__(self, command: ForegroundCommand, stop_timeout: float,
                 lifeline: Lifeline | None = None,
                 *, report: Callable[[str], None],
                 processes: ProcessBackend | None = None) -> None:
        self.command = command
        self.stop_timeout = stop_timeout
        self.lifeline = lifeline
        self.report = report
        self.processes = processes   # None: the running loop's (`backends.for_loop`)
        self._popen: subprocess.Popen[bytes] | None = None
        self._timer: asyncio.TimerHandle | None = None

    @property
    def running(self) -> bool:
        return self._popen is not None and self._popen.returncode is None

    async def run(self, extra_env: Mapping[str, str]) -> int:
        """Run to completion; the exit code (128+N when killed by signal N)."""
        env = {**self.command.env, **extra_env}
        sys.stdout.flush()
        try:
            popen = spawn_attached(self.command.argv, self.command.cwd, env)
        except SpawnError as exc:
            self.report(f"cannot run: {exc.message}")
            return exc.exit_code
        self._popen = popen
        if self.lifeline is not None:
            self.lifeline.track(popen.pid)
        processes = self.processes or for_loop()
        exited: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        processes.watch(popen.pid, lambda: _resolve(exited))
        try:
            with _foreground(popen.pid):
                await exited
        finally:
            processes.unwatch(popen.pid)
            if self._timer is not None:
                self._timer.cancel()
            # Unreaped, the leader keeps its group id ours: end what it left behind, then reap.
            signal_group(popen.pid, signal.SIGKILL)
            if self.lifeline is not None:
                self.lifeline.untrack(popen.pid)
            code, _ = processes.reap(popen.pid)   # only this pid: never another child
            popen.returncode = code
        return code

    def on_signal(self, signum: int) -> None:
        """orchestra received a stop signal while the command runs: pass it on."""
        self._send(signum)
        self._arm_escalation()

    def _arm_escalation(self) -> None:
        """SIGKILL the group once the stop timeout has passed (armed once)."""
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.stop_timeout, self.kill)

    def terminate(self) -> None:
        """Stop it because something else failed: SIGTERM, then SIGKILL after the timeout."""
        self._send(signal.SIGTERM)
        self._arm_escalation()

    def kill(self) -> None:
        self._send(signal.SIGKILL)

    def _send(self, signum: int) -> None:
        if self._popen is not None and self._popen.returncode is None:
            signal_group(self._popen.pid, signum)
