"""What the state machine knows about one runner (`Facts`), what it reads but does not own
(`Given`), and what a dependent or `run --with` can tell from the facts (`satisfies`).

Pure data and pure functions, like `runtime/machine.py`, which alone makes new `Facts`.
"""

# Annotations are evaluated here, not kept as strings: see orchestra/records.py.

from collections.abc import Sequence
from typing import NamedTuple

from orchestra.config.model import Condition, Service
from orchestra.records import own_kind_only
from orchestra.runtime.exit_status import ExitStatus
from orchestra.runtime.states import State

STOP_REASON = "orchestra is stopping"
NOT_STARTED = "not started"   # the readiness of a run still waiting for its dependencies


class Facts(NamedTuple):
    """Everything the machine knows about one runner; only `step` makes new ones (with
    `_replace`). A NamedTuple equal only to its own kind (`orchestra/records.py`)."""

    state: State = State.PENDING
    run: int = 0                      # runs spawned so far; the current run's number
    pid: int | None = None            # the current run's leader (and group), until clean-up ends
    exit_seen: bool = False           # its exit was observed: clean-up owns the group now
    run_began: float = 0.0            # Given.now at the spawn
    uptime: float = 0.0               # how long the last run was up (spawn to exit observed)
    restarts: int = 0                 # runs started again by the restart policy, in all
    in_a_row: int = 0                 # of those, in a row since the last stable run
    next_attempt: int = 0             # the restart `backoff` waits for
    has_started: bool = False         # ever (--exit-code-from)
    started_this_run: bool = False    # since the last start on request (`started`)
    ready: bool = False
    became_ready: bool = False        # ready at least once (a one-shot may be ready, then end)
    ready_reason: str = NOT_STARTED
    exit_status: ExitStatus | None = None
    check_failure: str | None = None  # why orchestra ended the current run (a check failed)
    failure: str = ""                 # why the service failed, for annotations
    restart_forgone: bool = False     # failed, but the policy would have restarted it
    stop_requested: bool = False
    signalled_at: float = 0.0         # Given.now at the stop signal
    kill_at: float | None = None      # when SIGKILL follows it (Given.now's clock)
    stop_reason: str = STOP_REASON
    stopped_on_request: bool = False  # `orchestra stop`/`restart` ended this run
    finished: bool = False            # no run follows (until a start on request)


own_kind_only(Facts)


class Given(NamedTuple):
    """What the machine reads but does not own: the service's settings, the stop timeout
    in force (`-t`, `down -t`), and the shell's clock. A NamedTuple, not a frozen dataclass:
    made afresh for each step, it is no part of the model, and a dataclass costs every start
    ~0.5 ms to create (see runtime/events.py)."""

    service: Service
    stop_timeout: float
    now: float


def satisfies(facts: Facts, condition: Condition) -> bool | None:
    """Whether a dependency in this state meets `condition`: True: met; False: can never be
    met (it has ended without); None: not yet.

    A dependency stopped on request (`orchestra stop`) is not yet: the stack stays up for its
    `orchestra restart`, so its dependents wait for it as at start-up. Judged by how it was
    stopped, it would skip them (a stopped `ready` dependency), which stops the whole stack,
    or let them start although it is down (a stopped `started` one)."""
    if facts.finished and facts.stopped_on_request:
        return None
    if condition is Condition.COMPLETED_SUCCESSFULLY:
        if not facts.finished:
            return None
        return (facts.state is State.EXITED and facts.exit_status is not None
                and facts.exit_status.code == 0)
    if condition is Condition.READY:
        # ready now, or ready once and then completed (a migration with a readiness check)
        met = facts.ready or (facts.became_ready
                              and satisfies(facts, Condition.COMPLETED_SUCCESSFULLY) is True)
    else:
        met = facts.started_this_run
    if met:
        return True
    return False if facts.finished else None


def dependency_verdict(
        facts: Facts,
        dependencies: Sequence[tuple[Condition, Sequence[tuple[str, Facts]]]]) -> bool | str:
    """True: it may start; False: it waits; a string: why it never will. A dependency that
    can never meet its condition is reported before a stop: it is the real reason."""
    waiting = False
    for condition, runners in dependencies:
        for name, dependency in runners:
            verdict = satisfies(dependency, condition)
            if verdict is False:
                return (f"dependency '{name}' {dependency.state.value} "
                        f"(needed: {condition.value})")
            waiting = waiting or verdict is None
    if facts.stop_requested:
        return facts.stop_reason
    return not waiting
