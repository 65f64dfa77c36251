"""The end of one run, in the order that keeps it safe: empty the group, drain the pipes, then
reap the leader.

The leader's status was read without reaping where the platform allows (`runtime/backends`):
while it stays a zombie, its pid and so its process group id cannot be reused, so signalling
the group here never reaches someone else's processes. Only once the group is empty and the
pipes are drained is the leader reaped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from orchestra.config.values import signal_name
from orchestra.output.mux import Multiplexer
from orchestra.runtime.backends import ProcessBackend
from orchestra.runtime.exit_status import ExitStatus
from orchestra.runtime.groups import SOME, can_list_members, empty_group, empty_session
from orchestra.runtime.lifeline import Lifeline
from orchestra.runtime.pipes import Pipes
from orchestra.runtime.spawn import Child

#: How long pipes may stay open after a service's group is gone (a process that left the group
#: with setsid may hold them forever; its later output is not worth hanging for).
DRAIN_TIMEOUT = 1.0


async def clean_up(child: Child, status: ExitStatus, pipes: Pipes, *,
                   processes: ProcessBackend, lifeline: Lifeline, mux: Multiplexer,
                   stop_signal: int, signalled: bool, timeout: float,
                   hurry: asyncio.Event, say: Callable[[str, str], None]) -> None:
    """Empty the group, drain the pipes, then reap the leader (in that order).

    `signalled`: the group already got its stop signal (the run was being stopped), so what
    is left only gets SIGKILL after `timeout`; otherwise what is left gets `stop_signal` first.
    `hurry`, once set, brings that SIGKILL forward to now (a shorter stop timeout asked for
    meanwhile: `down -t 0`); the order stays the same.
    """
    if not can_list_members():   # only probes: a zombie leader would answer them
        processes.reap(child.pid)
    found, killed = await empty_group(child.pid, child.pid,
                                      None if signalled else stop_signal, timeout, hurry)
    if found and (killed or not signalled):
        how = "killed with SIGKILL" if killed else f"stopped with {signal_name(stop_signal)}"
        count = "some processes were" if found == SOME else f"{found} process(es)"
        say(f"{count} left in its group after it exited; {how}", "group-cleanup")
    if child.terminal is not None:   # its terminal's session: jobs in groups of their own
        found, killed = await empty_session(child.pid, child.pid, stop_signal, timeout,
                                               hurry)
        if found:
            how = "killed with SIGKILL" if killed else f"stopped with {signal_name(stop_signal)}"
            say(f"{found} process(es) left in its terminal's session after it exited; {how}",
                "session-cleanup")
    if not await pipes.drained(DRAIN_TIMEOUT, mux):
        say(f"output still open {DRAIN_TIMEOUT:g} s after exit (held by a process outside "
            "its group); no longer read", "drain-timeout")
    lifeline.untrack(child.pid)
    if can_list_members():
        processes.reap(child.pid)                     # the pgid may now be reused
    child.popen.returncode = status.code              # Popen must not reap it again
