"""What happens to one service instance (events) and what its shell does about it (actions).

The vocabulary of `runtime/machine.py`: the shell (`runtime/service.py`) turns what it sees —
a dependency met, a spawn, an exit, a check's verdict, a timer, a request from Ctrl-C, the
control socket or the file watcher — into an event; the machine answers with actions, which
the shell performs. Both are immutable values: a table row in tests/test_machine.py is one
event and the actions it must produce.

They are NamedTuples rather than frozen dataclasses for the cost of a start: these 24 classes
are on the way to every run's first line, ~9 ms of CPU as dataclasses against ~1.5 ms
(`orchestra/records.py` says why, and how each kind is still equal only to itself).

Events that concern one run carry that run's number (`run`): a check, a timer or an exit
belongs to the process it watched, and an event of an earlier run changes nothing.
"""

# Annotations are evaluated here, not kept as strings: see orchestra/records.py.

from typing import NamedTuple

from orchestra.records import own_kind_only
from orchestra.runtime.exit_status import ExitStatus

# ---------------------------------------------------------------------- events


class DependenciesMet(NamedTuple):
    """Every dependency's condition holds: start (pending only)."""


class DependencyBlocked(NamedTuple):
    """It can never start: a dependency ended without meeting its condition, or orchestra
    stopped it while it waited."""

    reason: str


class Spawned(NamedTuple):
    """The process exists (its pid is also its process group id)."""

    pid: int


class SpawnFailed(NamedTuple):
    """The program, the folder or the port was missing: no process was made."""

    message: str
    code: int


class NotReady(NamedTuple):
    """The readiness check's last attempt failed for a new reason; it goes on trying."""

    run: int
    reason: str


class BecameReady(NamedTuple):
    """The readiness check passed (without a check: the process started)."""

    run: int
    reason: str


class CheckFailed(NamedTuple):
    """Readiness gave up, or liveness failed: the run is ended and counts as a failure."""

    run: int
    reason: str


class ExitObserved(NamedTuple):
    """The leader exited (its status read without reaping); clean-up now owns the group."""

    run: int
    status: ExitStatus


class Exited(NamedTuple):
    """The run's clean-up is over: group empty, pipes drained, leader reaped."""

    run: int
    status: ExitStatus
    log_line_seen: bool = False   # the `log` readiness line was read, if only while draining


class KillTimerFired(NamedTuple):
    """`stop_timeout` passed since the stop signal."""

    run: int
    after: float


class BackoffElapsed(NamedTuple):
    """The restart delay passed."""


class StopRequested(NamedTuple):
    """Stop: at shutdown (Ctrl-C, a failure, `down`), or `orchestra stop`/`restart`
    (`on_request`: not a failure, nothing else stops)."""

    on_request: bool = False


class KillRequested(NamedTuple):
    """A second Ctrl-C: SIGKILL the group now."""


class SignalRequested(NamedTuple):
    """The file watcher's `action: signal`: send this signal to a running group."""

    signal: int


class StartRequested(NamedTuple):
    """`orchestra start`/`restart` of an instance that has ended: run it again."""


class InternalError(NamedTuple):
    """A bug in the shell: end the runner rather than leave shutdown waiting for it."""

    text: str


Event = (DependenciesMet | DependencyBlocked | Spawned | SpawnFailed | NotReady | BecameReady
         | CheckFailed | ExitObserved | Exited | KillTimerFired | BackoffElapsed
         | StopRequested | KillRequested | SignalRequested | StartRequested | InternalError)

# ---------------------------------------------------------------------- actions


class Report(NamedTuple):
    """A `system` line `NAME: text` (or, `json_only`, a JSON event only) for the user."""

    text: str
    event: str
    fields: tuple[tuple[str, object], ...] = ()
    json_only: bool = False


class Spawn(NamedTuple):
    """Start the next run: spawn, attach the pipes, watch the checks and the exit."""


class SignalGroup(NamedTuple):
    pid: int
    signal: int


class ArmKillTimer(NamedTuple):
    """Feed `KillTimerFired` back after `timeout` seconds, in place of an earlier timer of
    the run (`down -t` shortens a stop under way); `after`: the time since the stop signal
    it will then be (None: `timeout`)."""

    run: int
    timeout: float
    after: float | None = None


class ArmBackoff(NamedTuple):
    """Feed `BackoffElapsed` back after `delay` seconds (a stop ends the wait)."""

    delay: float


class AwaitDependencies(NamedTuple):
    """Wait for the dependencies' conditions, then feed back the verdict."""


class Finish(NamedTuple):
    """No run follows: the runner ends (`done`), and the orchestrator judges how."""


class KillLeftovers(NamedTuple):
    """End clean-up's wait for what is left in the group of a leader that exited: SIGKILL
    it now (`down -t 0` while clean-up waits out the service's own stop timeout). Clean-up,
    which owns the group then, sends it and says so."""


Action = (Report | Spawn | SignalGroup | ArmKillTimer | ArmBackoff | AwaitDependencies | Finish
          | KillLeftovers)


own_kind_only(
    DependenciesMet, DependencyBlocked, Spawned, SpawnFailed, NotReady, BecameReady,
    CheckFailed, ExitObserved, Exited, KillTimerFired, BackoffElapsed, StopRequested,
    KillRequested, SignalRequested, StartRequested, InternalError,
    Report, Spawn, SignalGroup, ArmKillTimer, ArmBackoff, AwaitDependencies, Finish,
    KillLeftovers)
