"""The states of one service instance and the only legal moves between them (DESIGN §3.1).

A leaf module: no imports from the rest of the runtime, so every other module can name states.
Readiness is deliberately not a state: it is a separate axis with a human reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class State(StrEnum):
    PENDING = "pending"      # waiting for its dependencies
    STARTING = "starting"    # being spawned
    RUNNING = "running"      # its main process is alive
    STOPPING = "stopping"    # its stop signal was sent
    BACKOFF = "backoff"      # waiting to be restarted
    EXITED = "exited"        # ended cleanly: rc 0, or stopped by orchestra
    FAILED = "failed"        # ended badly: rc != 0, killed, or could not start
    SKIPPED = "skipped"      # never started: a dependency failed, or orchestra was stopping


FINAL = frozenset({State.EXITED, State.FAILED, State.SKIPPED})

TRANSITIONS: Mapping[State, frozenset[State]] = MappingProxyType({
    # PENDING -> STARTING: dependencies satisfied; PENDING -> SKIPPED: a dependency failed,
    # or orchestra stopped it; PENDING -> FAILED: an internal error (a bug) ended the runner
    State.PENDING: frozenset({State.STARTING, State.SKIPPED, State.FAILED}),
    # STARTING -> RUNNING: spawned; STARTING -> FAILED: the executable or directory is missing
    State.STARTING: frozenset({State.RUNNING, State.FAILED}),
    # RUNNING -> STOPPING: orchestra sent the stop signal; RUNNING -> EXITED/FAILED: it ended
    State.RUNNING: frozenset({State.STOPPING, State.EXITED, State.FAILED}),
    # STOPPING -> EXITED: it went away after its stop signal (or SIGKILL);
    # STOPPING -> FAILED: a check ended it
    State.STOPPING: frozenset({State.EXITED, State.FAILED}),
    # BACKOFF -> STARTING: the restart delay passed; BACKOFF -> EXITED: stopped while waiting;
    # BACKOFF -> FAILED: an internal error (a bug) ended the runner
    State.BACKOFF: frozenset({State.STARTING, State.EXITED, State.FAILED}),
    # EXITED/FAILED -> BACKOFF: the restart policy asks for another run
    # EXITED/FAILED/SKIPPED -> PENDING: `orchestra start` or `restart` asks for another run
    State.EXITED: frozenset({State.BACKOFF, State.PENDING}),
    State.FAILED: frozenset({State.BACKOFF, State.PENDING}),
    State.SKIPPED: frozenset({State.PENDING}),
})


class TransitionError(RuntimeError):
    """A bug: the runtime tried a move the state machine does not allow."""


def check_transition(current: State, target: State) -> None:
    if target not in TRANSITIONS[current]:
        raise TransitionError(f"illegal transition {current} -> {target}")
