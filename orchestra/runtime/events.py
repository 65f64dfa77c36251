"""What happens to one service instance (events) and what its shell does about it (actions).

The vocabulary of `runtime/machine.py`: the shell (`runtime/service.py`) turns what it sees —
a dependency met, a spawn, an exit, a check's verdict, a timer, a request from Ctrl-C, the
control socket or the file watcher — into an event; the machine answers with actions, which
the shell performs. Both are frozen data: a table row in tests/test_machine.py is one event
and the actions it must produce.

Events that concern one run carry that run's number (`run`): a check, a timer or an exit
belongs to the process it watched, and an event of an earlier run changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestra.runtime.exit_status import ExitStatus

# ---------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class DependenciesMet:
    """Every dependency's condition holds: start (pending only)."""


@dataclass(frozen=True, slots=True)
class DependencyBlocked:
    """It can never start: a dependency ended without meeting its condition, or orchestra
    stopped it while it waited."""

    reason: str


@dataclass(frozen=True, slots=True)
class Spawned:
    """The process exists (its pid is also its process group id)."""

    pid: int


@dataclass(frozen=True, slots=True)
class SpawnFailed:
    """The program, the folder or the port was missing: no process was made."""

    message: str
    code: int


@dataclass(frozen=True, slots=True)
class NotReady:
    """The readiness check's last attempt failed for a new reason; it goes on trying."""

    run: int
    reason: str


@dataclass(frozen=True, slots=True)
class BecameReady:
    """The readiness check passed (without a check: the process started)."""

    run: int
    reason: str


@dataclass(frozen=True, slots=True)
class CheckFailed:
    """Readiness gave up, or liveness failed: the run is ended and counts as a failure."""

    run: int
    reason: str


@dataclass(frozen=True, slots=True)
class ExitObserved:
    """The leader exited (its status read without reaping); clean-up now owns the group."""

    run: int
    status: ExitStatus


@dataclass(frozen=True, slots=True)
class Exited:
    """The run's clean-up is over: group empty, pipes drained, leader reaped."""

    run: int
    status: ExitStatus
    log_line_seen: bool = False   # the `log` readiness line was read, if only while draining


@dataclass(frozen=True, slots=True)
class KillTimerFired:
    """`stop_timeout` passed since the stop signal."""

    run: int
    after: float


@dataclass(frozen=True, slots=True)
class BackoffElapsed:
    """The restart delay passed."""


@dataclass(frozen=True, slots=True)
class StopRequested:
    """Stop: at shutdown (Ctrl-C, a failure, `down`), or `orchestra stop`/`restart`
    (`on_request`: not a failure, nothing else stops)."""

    on_request: bool = False


@dataclass(frozen=True, slots=True)
class KillRequested:
    """A second Ctrl-C: SIGKILL the group now."""


@dataclass(frozen=True, slots=True)
class SignalRequested:
    """The file watcher's `action: signal`: send this signal to a running group."""

    signal: int


@dataclass(frozen=True, slots=True)
class StartRequested:
    """`orchestra start`/`restart` of an instance that has ended: run it again."""


@dataclass(frozen=True, slots=True)
class InternalError:
    """A bug in the shell: end the runner rather than leave shutdown waiting for it."""

    text: str


Event = (DependenciesMet | DependencyBlocked | Spawned | SpawnFailed | NotReady | BecameReady
         | CheckFailed | ExitObserved | Exited | KillTimerFired | BackoffElapsed
         | StopRequested | KillRequested | SignalRequested | StartRequested | InternalError)

# ---------------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True)
class Report:
    """A `system` line `NAME: text` (or, `json_only`, a JSON event only) for the user."""

    text: str
    event: str
    fields: tuple[tuple[str, object], ...] = ()
    json_only: bool = False


@dataclass(frozen=True, slots=True)
class Spawn:
    """Start the next run: spawn, attach the pipes, watch the checks and the exit."""


@dataclass(frozen=True, slots=True)
class SignalGroup:
    pid: int
    signal: int


@dataclass(frozen=True, slots=True)
class ArmKillTimer:
    """Feed `KillTimerFired` back after `timeout` seconds, in place of an earlier timer of
    the run (`down -t` shortens a stop under way); `after`: the time since the stop signal
    it will then be (None: `timeout`)."""

    run: int
    timeout: float
    after: float | None = None


@dataclass(frozen=True, slots=True)
class ArmBackoff:
    """Feed `BackoffElapsed` back after `delay` seconds (a stop ends the wait)."""

    delay: float


@dataclass(frozen=True, slots=True)
class AwaitDependencies:
    """Wait for the dependencies' conditions, then feed back the verdict."""


@dataclass(frozen=True, slots=True)
class Finish:
    """No run follows: the runner ends (`done`), and the orchestrator judges how."""


Action = Report | Spawn | SignalGroup | ArmKillTimer | ArmBackoff | AwaitDependencies | Finish
