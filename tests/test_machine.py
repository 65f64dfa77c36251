"""The state machine of one service instance as tables (`runtime/machine.py`, `runtime/facts.py`).

`step(facts, event, given)` is pure: each row is the facts before, one event, and the state
and the exact actions it must produce — no process, no clock, no event loop. Every edge of
`states.TRANSITIONS` is produced by some row, no row produces an edge the table forbids, and
any sequence of events makes only legal moves (a property test).
"""

from __future__ import annotations

import itertools
import signal
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from hypothesis import given as for_all
from hypothesis import settings
from hypothesis import strategies as st

from orchestra.config.model import CheckKind, Condition, RestartMode, RestartPolicy, Service
from orchestra.config.model_parts import Check
from orchestra.runtime import events as ev
from orchestra.runtime.events import (
    ArmBackoff,
    ArmKillTimer,
    AwaitDependencies,
    Finish,
    KillLeftovers,
    Report,
    SignalGroup,
    Spawn,
)
from orchestra.runtime.exit_status import ExitStatus
from orchestra.runtime.facts import Facts, Given, dependency_verdict, satisfies
from orchestra.runtime.machine import step
from orchestra.runtime.states import FINAL, TRANSITIONS, State

S = State
NOW = 100.0          # Given.now of every row
TIMEOUT = 10.0       # the stop timeout in force
TERM, KILL, HUP = signal.SIGTERM, signal.SIGKILL, signal.SIGHUP

WEB = Service(name="web", argv=("web",), shell=False, dir=Path("/srv"), run_dir=Path("/srv"))
ALWAYS = replace(WEB, restart=RestartPolicy(RestartMode.ALWAYS))
ON_FAILURE = replace(WEB, restart=RestartPolicy(RestartMode.ON_FAILURE))
NO_RESTARTS = replace(WEB, restart=RestartPolicy(RestartMode.ON_FAILURE, max_restarts=0))
WITH_CHECK = replace(WEB, readiness=Check(CheckKind.TCP, host="127.0.0.1", port=80))

OK, ONE, BY_TERM = ExitStatus(0, None), ExitStatus(1, None), ExitStatus(143, TERM)

PENDING = Facts()
STARTING = Facts(state=S.STARTING)
RUNNING = Facts(state=S.RUNNING, run=1, pid=42, run_began=90.0, has_started=True,
                started_this_run=True)
EXIT_SEEN = RUNNING._replace(exit_seen=True, uptime=10.0 - 9.5)   # a short run
STOPPING = RUNNING._replace(state=S.STOPPING, stop_requested=True)
STOPPING_SEEN = STOPPING._replace(exit_seen=True, uptime=0.5)
BACKOFF = Facts(state=S.BACKOFF, run=1, next_attempt=1, exit_status=ONE, has_started=True)
EXITED = Facts(state=S.EXITED, run=1, exit_status=OK, finished=True, has_started=True)
FAILED = Facts(state=S.FAILED, run=1, exit_status=ONE, failure="exited rc=1", finished=True)
SKIPPED = Facts(state=S.SKIPPED, failure="skipped: orchestra is stopping", finished=True)


def say(text: str, event: str, *, json_only: bool = False, **fields: object) -> Report:
    return Report(text, event, tuple(fields.items()), json_only)


def moved(state: State, text: str | None = None, **fields: object) -> Report:
    return say(text or state.value, state.value, json_only=text is None, **fields)


SENDING_TERM = (moved(S.STOPPING, "sending SIGTERM to process group 42", signal="SIGTERM"),
                SignalGroup(42, TERM), ArmKillTimer(1, TIMEOUT))
BACKING_OFF = (moved(S.BACKOFF, "restarting in 1 s (attempt 1)", delay=1.0, attempt=1,
                     max_restarts=None), ArmBackoff(1.0))
CHECK = "not ready: tcp 127.0.0.1:80: refused; gave up"


@dataclass(frozen=True)
class Row:
    name: str
    before: Facts
    event: ev.Event
    after: State
    actions: tuple[ev.Action, ...]
    service: Service = WEB
    facts: dict[str, object] = field(default_factory=dict)   # fields of the new facts


ROWS = [
    # ------------------------------------------------------------------ starting
    Row("dependencies met", PENDING, ev.DependenciesMet(), S.STARTING,
        (moved(S.STARTING), Spawn())),
    Row("a dependency failed", PENDING, ev.DependencyBlocked("dependency 'db' failed"),
        S.SKIPPED, (moved(S.SKIPPED, "skipped: dependency 'db' failed",
                          reason="dependency 'db' failed"), Finish()),
        facts={"failure": "skipped: dependency 'db' failed", "finished": True}),
    Row("met, but orchestra is stopping", PENDING._replace(stop_requested=True),
        ev.DependenciesMet(), S.SKIPPED,
        (moved(S.SKIPPED, "skipped: orchestra is stopping", reason="orchestra is stopping"),
         Finish())),
    Row("a stop while pending waits for the dependency verdict", PENDING, ev.StopRequested(),
        S.PENDING, (), facts={"stop_requested": True}),
    Row("spawned", STARTING, ev.Spawned(42), S.RUNNING,
        (moved(S.RUNNING, "started pid=42", pid=42),),
        facts={"run": 1, "pid": 42, "run_began": NOW, "has_started": True,
               "started_this_run": True,
               "ready_reason": "not ready: its readiness check has not passed yet"}),
    Row("spawned after a stop was asked: stopped at once", STARTING._replace(stop_requested=True),
        ev.Spawned(42), S.STOPPING, (moved(S.RUNNING, "started pid=42", pid=42), *SENDING_TERM)),
    Row("cannot start", STARTING, ev.SpawnFailed("no such program: web", 127), S.FAILED,
        (moved(S.FAILED, "cannot start: no such program: web", rc=127), Finish()),
        facts={"exit_status": ExitStatus(127, None), "finished": True}),
    Row("cannot start, restarted", STARTING, ev.SpawnFailed("no such program: web", 127),
        S.BACKOFF, (moved(S.FAILED, "cannot start: no such program: web", rc=127),
                    *BACKING_OFF), service=ALWAYS),
    # ------------------------------------------------------------------ readiness
    Row("not ready yet", RUNNING, ev.NotReady(1, "refused (attempt 1)"), S.RUNNING,
        (say("not ready: refused (attempt 1)", "not-ready", reason="refused (attempt 1)"),),
        facts={"ready_reason": "not ready: refused (attempt 1)"}),
    Row("ready by its check", RUNNING, ev.BecameReady(1, "tcp accepted"), S.RUNNING,
        (say("ready: tcp accepted", "ready", reason="tcp accepted"),), service=WITH_CHECK,
        facts={"ready": True, "became_ready": True, "ready_reason": "tcp accepted"}),
    Row("ready without a check: not announced", RUNNING, ev.BecameReady(1, "started"),
        S.RUNNING, (), facts={"ready": True, "became_ready": True}),
    Row("ready after its exit was seen: it was, but is no more", EXIT_SEEN,
        ev.BecameReady(1, "started"), S.RUNNING, (),
        facts={"ready": False, "became_ready": True}),
    Row("a check of an earlier run", RUNNING._replace(run=2), ev.CheckFailed(1, CHECK),
        S.RUNNING, ()),
    Row("a check failed", RUNNING, ev.CheckFailed(1, CHECK), S.STOPPING,
        (say(CHECK, "check-failed", reason=CHECK), *SENDING_TERM),
        facts={"check_failure": CHECK, "ready": False, "ready_reason": CHECK}),
    Row("a check failed after the exit: clean-up owns the group", EXIT_SEEN,
        ev.CheckFailed(1, CHECK), S.RUNNING, (say(CHECK, "check-failed", reason=CHECK),),
        facts={"check_failure": CHECK}),
    # ------------------------------------------------------------------ the end of a run
    Row("its exit is seen", RUNNING._replace(ready=True), ev.ExitObserved(1, ONE), S.RUNNING,
        (), facts={"exit_seen": True, "uptime": 10.0, "ready": False,
                   "ready_reason": "not ready: exited rc=1",
                   # clean-up sends what is left its stop signal, SIGKILL after the timeout
                   "signalled_at": NOW, "kill_at": NOW + TIMEOUT}),
    Row("its exit is seen while stopping: SIGKILL keeps its time",
        STOPPING._replace(signalled_at=NOW - 5, kill_at=NOW + 5), ev.ExitObserved(1, ONE),
        S.STOPPING, (), facts={"exit_seen": True, "signalled_at": NOW - 5,
                               "kill_at": NOW + 5}),
    Row("a stop with a shorter timeout during the clean-up of a run that ended on its own "
        "(`down -t 0`): what is left is killed sooner",
        EXIT_SEEN._replace(signalled_at=NOW - 2, kill_at=NOW + 26), ev.StopRequested(),
        S.RUNNING, (ArmKillTimer(1, TIMEOUT, after=12.0),),
        facts={"kill_at": NOW + TIMEOUT, "stop_requested": True}),
    Row("a stop with a longer timeout during clean-up: SIGKILL as it was",
        EXIT_SEEN._replace(signalled_at=NOW - 2, kill_at=NOW + 6), ev.StopRequested(),
        S.RUNNING, (), facts={"kill_at": NOW + 6}),
    Row("the kill timer during the clean-up of a run that ended on its own",
        EXIT_SEEN._replace(kill_at=NOW), ev.KillTimerFired(1, 8.0), S.RUNNING,
        (KillLeftovers(),), facts={"kill_at": None}),
    Row("completed", EXIT_SEEN, ev.Exited(1, OK), S.EXITED,
        (moved(S.EXITED, "exited rc=0", rc=0, signal=None), Finish()),
        facts={"exit_status": OK, "pid": None, "finished": True}),
    Row("failed", EXIT_SEEN, ev.Exited(1, ONE), S.FAILED,
        (moved(S.FAILED, "exited rc=1", rc=1, signal=None), Finish()),
        facts={"failure": "exited rc=1", "exit_status": ONE}),
    Row("completed, restarted (always)", EXIT_SEEN, ev.Exited(1, OK), S.BACKOFF,
        (moved(S.EXITED, "exited rc=0", rc=0, signal=None), *BACKING_OFF), service=ALWAYS,
        facts={"next_attempt": 1, "finished": False,
               "ready_reason": "not ready: restarting in 1 s (attempt 1)"}),
    Row("failed, restarted (on-failure)", EXIT_SEEN, ev.Exited(1, ONE), S.BACKOFF,
        (moved(S.FAILED, "exited rc=1", rc=1, signal=None), *BACKING_OFF),
        service=ON_FAILURE),
    Row("the third restart in a row waits longer", EXIT_SEEN._replace(in_a_row=2),
        ev.Exited(1, ONE), S.BACKOFF,
        (moved(S.FAILED, "exited rc=1", rc=1, signal=None),
         moved(S.BACKOFF, "restarting in 4 s (attempt 3)", delay=4.0, attempt=3,
               max_restarts=None), ArmBackoff(4.0)), service=ON_FAILURE),
    Row("a stable run starts a new series", EXIT_SEEN._replace(in_a_row=2, uptime=10.0),
        ev.Exited(1, ONE), S.BACKOFF,
        (moved(S.FAILED, "exited rc=1", rc=1, signal=None), *BACKING_OFF),
        service=ON_FAILURE),
    Row("giving up", EXIT_SEEN, ev.Exited(1, ONE), S.FAILED,
        (moved(S.FAILED, "exited rc=1", rc=1, signal=None),
         say("giving up: no restarts allowed (max_restarts: 0)", "giving-up"), Finish()),
        service=NO_RESTARTS),
    Row("failed on its own while orchestra stops: the restart is forgone",
        EXIT_SEEN._replace(stop_requested=True), ev.Exited(1, ONE), S.FAILED,
        (moved(S.FAILED, "exited rc=1", rc=1, signal=None), Finish()), service=ALWAYS,
        facts={"restart_forgone": True}),
    Row("its log line was read only while draining: it was ready", EXIT_SEEN,
        ev.Exited(1, OK, log_line_seen=True), S.EXITED,
        (moved(S.EXITED, "exited rc=0", rc=0, signal=None), Finish()),
        facts={"became_ready": True}),
    Row("the exit of an earlier run", EXIT_SEEN._replace(run=2), ev.Exited(1, OK), S.RUNNING,
        ()),
    Row("stopped", STOPPING_SEEN, ev.Exited(1, BY_TERM), S.EXITED,
        (moved(S.EXITED, "stopped by SIGTERM", rc=143, signal="SIGTERM"), Finish()),
        service=ALWAYS, facts={"exit_status": BY_TERM, "failure": ""}),
    Row("stopped, ended with 0", STOPPING_SEEN, ev.Exited(1, OK), S.EXITED,
        (moved(S.EXITED, "exited rc=0", rc=0, signal=None), Finish())),
    Row("ended by a failed check", STOPPING_SEEN._replace(stop_requested=False,
                                           check_failure=CHECK),
        ev.Exited(1, BY_TERM), S.FAILED,
        (moved(S.FAILED, f"failed: {CHECK} (killed by SIGTERM, rc=143)", rc=143,
               signal="SIGTERM"), Finish()),
        facts={"exit_status": ONE, "failure": CHECK}),
    Row("ended by a failed check, restarted", STOPPING_SEEN._replace(stop_requested=False,
                                                      check_failure=CHECK),
        ev.Exited(1, OK), S.BACKOFF,
        (moved(S.FAILED, f"failed: {CHECK} (exited rc=0)", rc=0, signal=None),
         *BACKING_OFF), service=ON_FAILURE),
    # ------------------------------------------------------------------ stopping
    Row("stop", RUNNING, ev.StopRequested(), S.STOPPING, SENDING_TERM,
        facts={"stop_requested": True, "stopped_on_request": False, "signalled_at": NOW,
               "kill_at": NOW + TIMEOUT}),
    Row("stop of a ready run: it is ready no more", RUNNING._replace(ready=True,
                                                           ready_reason="tcp accepted"),
        ev.StopRequested(), S.STOPPING, SENDING_TERM,
        facts={"ready": False, "ready_reason": "not ready: being stopped"}),
    Row("ready after its stop signal: it was, but is no more, and says nothing",
        STOPPING._replace(ready_reason="not ready: its readiness check has not passed yet"),
        ev.BecameReady(1, "tcp accepted"), S.STOPPING, (), service=WITH_CHECK,
        facts={"ready": False, "became_ready": True,
               "ready_reason": "not ready: its readiness check has not passed yet"}),
    Row("stop on request", RUNNING, ev.StopRequested(on_request=True), S.STOPPING,
        SENDING_TERM, facts={"stopped_on_request": True, "stop_reason": "stopped on request"}),
    Row("stop after the exit was seen: clean-up owns the group", EXIT_SEEN,
        ev.StopRequested(), S.RUNNING, (), facts={"stop_requested": True}),
    Row("stop while stopping", STOPPING, ev.StopRequested(), S.STOPPING, ()),
    Row("stop while stopping, with a shorter timeout in force (`down -t`): SIGKILL sooner",
        STOPPING._replace(signalled_at=NOW - 5, kill_at=NOW + 25), ev.StopRequested(),
        S.STOPPING, (ArmKillTimer(1, TIMEOUT, after=15.0),), facts={"kill_at": NOW + TIMEOUT}),
    Row("stop while stopping, with a longer timeout in force: SIGKILL as it was",
        STOPPING._replace(signalled_at=NOW - 5, kill_at=NOW + 3), ev.StopRequested(),
        S.STOPPING, (), facts={"kill_at": NOW + 3}),
    Row("stop while stopping, after the exit: clean-up's wait is shortened too",
        STOPPING_SEEN._replace(signalled_at=NOW - 5, kill_at=NOW + 25), ev.StopRequested(),
        S.STOPPING, (ArmKillTimer(1, TIMEOUT, after=15.0),), facts={"kill_at": NOW + TIMEOUT}),
    Row("the kill timer", STOPPING, ev.KillTimerFired(1, TIMEOUT), S.STOPPING,
        (say("still running 10 s after its stop signal; sending SIGKILL", "kill"),
         SignalGroup(42, KILL))),
    Row("the kill timer after the exit: clean-up, which owns the group, kills what is left",
        STOPPING_SEEN._replace(kill_at=NOW), ev.KillTimerFired(1, TIMEOUT), S.STOPPING,
        (KillLeftovers(),), facts={"kill_at": None}),
    Row("a second Ctrl-C during clean-up kills what is left", STOPPING_SEEN,
        ev.KillRequested(), S.STOPPING, (SignalGroup(42, KILL),)),
    Row("a second Ctrl-C before its stop wave: stopped, not failed", RUNNING,
        ev.KillRequested(), S.STOPPING,
        (moved(S.STOPPING, "sending SIGKILL to process group 42", signal="SIGKILL"),
         SignalGroup(42, KILL)), facts={"stop_requested": True}),
    Row("a second Ctrl-C after its own exit: clean-up owns the run", EXIT_SEEN,
        ev.KillRequested(), S.RUNNING, (SignalGroup(42, KILL),)),
    Row("a second Ctrl-C while pending", PENDING, ev.KillRequested(), S.PENDING, (),
        facts={"stop_requested": True}),
    Row("the watcher's signal", RUNNING, ev.SignalRequested(HUP), S.RUNNING,
        (SignalGroup(42, HUP),)),
    Row("the watcher's signal while stopping", STOPPING, ev.SignalRequested(HUP), S.STOPPING,
        ()),
    # ------------------------------------------------------------------ backoff
    Row("the delay passed", BACKOFF, ev.BackoffElapsed(), S.STARTING,
        (moved(S.STARTING), Spawn()), facts={"restarts": 1, "in_a_row": 1}),
    Row("stopped while waiting to restart",
        BACKOFF._replace(ready_reason="not ready: restarting in 1 s (attempt 1)"),
        ev.StopRequested(), S.EXITED,
        (moved(S.EXITED, "stopped while waiting to restart"), Finish()),
        facts={"ready_reason": "not ready: stopped while waiting to restart"}),
    Row("killed while waiting to restart", BACKOFF, ev.KillRequested(), S.EXITED,
        (moved(S.EXITED, "stopped while waiting to restart"), Finish())),
    Row("the delay passed after a stop", BACKOFF._replace(stop_requested=True),
        ev.BackoffElapsed(), S.EXITED,
        (moved(S.EXITED, "stopped while waiting to restart"), Finish())),
    # ------------------------------------------------------------------ started again
    Row("start again after completing", EXITED._replace(stop_requested=True, ready=True,
                                                became_ready=True, in_a_row=3),
        ev.StartRequested(), S.PENDING,
        (moved(S.PENDING, "starting again on request"), AwaitDependencies()),
        facts={"stop_requested": False, "ready": False, "became_ready": False,
               "exit_status": None, "finished": False, "in_a_row": 0}),
    Row("start again after failing", FAILED._replace(ready_reason="not ready: exited rc=1"),
        ev.StartRequested(), S.PENDING,
        (moved(S.PENDING, "starting again on request"), AwaitDependencies()),
        facts={"ready_reason": "not started"}),
    Row("start again after being skipped", SKIPPED, ev.StartRequested(), S.PENDING,
        (moved(S.PENDING, "starting again on request"), AwaitDependencies())),
    Row("start while running changes nothing", RUNNING, ev.StartRequested(), S.RUNNING, ()),
    # ------------------------------------------------------------------ internal errors
    Row("an internal error while pending", PENDING, ev.InternalError("boom"), S.FAILED,
        (say("internal error: boom", "internal-error"), moved(S.FAILED), Finish()),
        facts={"exit_status": ONE, "failure": "internal error: boom"}),
    Row("an internal error while starting", STARTING, ev.InternalError("boom"), S.FAILED,
        (say("internal error: boom", "internal-error"), moved(S.FAILED), Finish())),
    Row("an internal error while running", RUNNING, ev.InternalError("boom"), S.FAILED,
        (say("internal error: boom", "internal-error"), SignalGroup(42, KILL),
         moved(S.FAILED), Finish()), facts={"pid": None}),
    Row("an internal error in backoff", BACKOFF, ev.InternalError("boom"), S.FAILED,
        (say("internal error: boom", "internal-error"), moved(S.FAILED), Finish())),
    Row("an internal error after the end keeps the outcome", EXITED, ev.InternalError("boom"),
        S.EXITED, (say("internal error: boom", "internal-error"),),
        facts={"exit_status": OK}),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.name)
def test_step(row: Row) -> None:
    after, actions = step(row.before, row.event, Given(row.service, TIMEOUT, NOW))
    assert after.state is row.after
    assert actions == row.actions
    for name, value in row.facts.items():
        assert getattr(after, name) == value, name


def _path(before: Facts, actions: tuple[ev.Action, ...]) -> list[State]:
    """The states one step went through, from the transitions it reported."""
    values = {s.value: s for s in State}
    return [before.state, *(values[a.event] for a in actions
                            if isinstance(a, Report) and a.event in values)]


def _edges(path: list[State]) -> set[tuple[State, State]]:
    return set(itertools.pairwise(path))


def test_the_rows_cover_exactly_the_transitions_table() -> None:
    """A new edge without a row, or a row making an edge the table lacks, fails here."""
    produced: set[tuple[State, State]] = set()
    for row in ROWS:
        after, actions = step(row.before, row.event, Given(row.service, TIMEOUT, NOW))
        path = _path(row.before, actions)
        assert path[-1] is after.state, row.name
        produced |= _edges(path)
    table = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert produced - table == set()
    assert table - produced == set()


# -------------------------------------------------------------------- any sequence of events

RUNS = st.integers(min_value=0, max_value=3)
STATUSES = st.sampled_from([OK, ONE, BY_TERM])
EVENTS = st.one_of(
    st.just(ev.DependenciesMet()), st.just(ev.DependencyBlocked("dependency 'db' failed")),
    st.builds(ev.Spawned, st.integers(100, 103)),
    st.builds(ev.SpawnFailed, st.just("no such program"), st.sampled_from([1, 127])),
    st.builds(ev.NotReady, RUNS, st.just("refused")),
    st.builds(ev.BecameReady, RUNS, st.just("accepted")),
    st.builds(ev.CheckFailed, RUNS, st.just(CHECK)),
    st.builds(ev.ExitObserved, RUNS, STATUSES),
    st.builds(ev.Exited, RUNS, STATUSES, st.booleans()),
    st.builds(ev.KillTimerFired, RUNS, st.just(TIMEOUT)), st.just(ev.BackoffElapsed()),
    st.builds(ev.StopRequested, st.booleans()), st.just(ev.KillRequested()),
    st.builds(ev.SignalRequested, st.just(HUP)), st.just(ev.StartRequested()),
    st.just(ev.InternalError("boom")))
SERVICES = st.sampled_from([WEB, ALWAYS, ON_FAILURE, NO_RESTARTS, WITH_CHECK])
WORK = (Spawn, ArmBackoff, AwaitDependencies, Finish)


@settings(max_examples=300, deadline=None)
@for_all(SERVICES, st.lists(st.tuples(EVENTS, st.sampled_from([TIMEOUT, 1.0, 30.0])),
                            max_size=40))
def test_any_sequence_of_events_makes_only_legal_moves(
        service: Service, events: list[tuple[ev.Event, float]]) -> None:
    """The stop timeout in force may change between events (`down -t`)."""
    facts = Facts()
    for number, (event, timeout) in enumerate(events):
        before = facts
        facts, actions = step(before, event, Given(service, timeout, NOW + number))
        for origin, target in _edges(_path(before, actions)):
            assert target in TRANSITIONS[origin], (origin, target, event)
        assert _path(before, actions)[-1] is facts.state
        # at most one long action for the shell's task, and a finish exactly when it ends
        assert sum(isinstance(a, WORK) for a in actions) <= 1, actions
        assert (Finish() in actions) == (facts.finished and not before.finished)
        assert not facts.finished or facts.state in FINAL
        # a live process group exactly while running or stopping; signals only to it
        assert (facts.pid is not None) == (facts.state in (S.RUNNING, S.STOPPING))
        for action in actions:   # its own group: the one it had, or the one just spawned
            if isinstance(action, SignalGroup):
                assert action.pid in {before.pid, facts.pid} - {None}, (before, event)
            if isinstance(action, ArmKillTimer):   # only ever sooner, and for this run
                # stopping, or cleaning up after an exit of its own
                assert facts.state is S.STOPPING or facts.exit_seen, (before, event)
                assert action.run == facts.run, (before, event)
                sooner = (before.kill_at is not None and facts.kill_at is not None
                          and facts.kill_at < before.kill_at)
                under_way = before.state is S.STOPPING or before.exit_seen
                assert not under_way or sooner, (before, event)


# -------------------------------------------------------------------- what dependents see

DONE_OK = EXITED._replace(ready=False, became_ready=False)
READY_THEN_DONE = EXITED._replace(became_ready=True)
FAILED_AFTER_READY = FAILED._replace(became_ready=True)
STOPPED_ON_REQUEST = EXITED._replace(exit_status=BY_TERM, stop_requested=True,
                             stopped_on_request=True, started_this_run=True)

# facts, condition -> met (True), never (False), not yet (None)
SATISFIES = [
    (PENDING, Condition.STARTED, None),
    (RUNNING, Condition.STARTED, True),
    (SKIPPED, Condition.STARTED, False),
    (RUNNING._replace(ready=True), Condition.READY, True),
    (RUNNING, Condition.READY, None),
    (READY_THEN_DONE, Condition.READY, True),      # a migration with a readiness check
    (DONE_OK, Condition.READY, False),              # ended before it was ready
    (FAILED_AFTER_READY, Condition.READY, False),
    (RUNNING, Condition.COMPLETED_SUCCESSFULLY, None),
    (DONE_OK, Condition.COMPLETED_SUCCESSFULLY, True),
    (EXITED._replace(finished=False), Condition.COMPLETED_SUCCESSFULLY, None),  # restarting
    (FAILED, Condition.COMPLETED_SUCCESSFULLY, False),
    (SKIPPED, Condition.COMPLETED_SUCCESSFULLY, False),
    # stopped on request: its dependents wait for its `orchestra restart`
    (STOPPED_ON_REQUEST._replace(became_ready=True), Condition.STARTED, None),
    (STOPPED_ON_REQUEST, Condition.READY, None),
    (STOPPED_ON_REQUEST._replace(exit_status=OK, became_ready=True), Condition.READY, None),
    (STOPPED_ON_REQUEST._replace(exit_status=OK), Condition.COMPLETED_SUCCESSFULLY, None),
    (STOPPED_ON_REQUEST._replace(finished=False, state=S.STOPPING, ready=True),
     Condition.READY, True),   # not stopped yet
]


@pytest.mark.parametrize(("facts", "condition", "expected"), SATISFIES)
def test_satisfies(facts: Facts, condition: Condition, expected: bool | None) -> None:
    assert satisfies(facts, condition) is expected


def test_a_dependency_that_never_will_is_the_reason_even_while_stopping() -> None:
    deps = [(Condition.STARTED, [("db", SKIPPED)])]
    assert dependency_verdict(PENDING._replace(stop_requested=True), deps) == \
        "dependency 'db' skipped (needed: started)"


@pytest.mark.parametrize(("own", "dependencies", "expected"), [
    (PENDING, [], True),
    (PENDING, [(Condition.STARTED, [("db", RUNNING)])], True),
    (PENDING, [(Condition.STARTED, [("db", RUNNING), ("cache", PENDING)])], False),
    (PENDING._replace(stop_requested=True), [(Condition.READY, [("db", RUNNING)])],
     "orchestra is stopping"),
    (PENDING._replace(stop_requested=True, stop_reason="stopped on request"), [],
     "stopped on request"),
    (PENDING, [(Condition.COMPLETED_SUCCESSFULLY, [("migrate", FAILED)])],
     "dependency 'migrate' failed (needed: completed_successfully)"),
])
def test_dependency_verdict(own: Facts, dependencies: list[tuple[Condition,
                                                                 list[tuple[str, Facts]]]],
                            expected: bool | str) -> None:
    assert dependency_verdict(own, dependencies) == expected


# -------------------------------------------------------------------- purity

PURE_MODULES = ("machine", "machine_step", "facts", "events", "exit_status", "states", "policy")
PURE_IMPORTS = {"__future__", "collections.abc", "dataclasses", "enum", "signal", "types",
                "typing", "orchestra.config.model", "orchestra.config.values",
                "orchestra.runtime", "orchestra.records"} | {
                    f"orchestra.runtime.{name}" for name in PURE_MODULES}


@pytest.mark.parametrize("module", PURE_MODULES)
def test_the_machine_imports_nothing_that_does_io(module: str) -> None:
    """No asyncio, os, clock or process module: the machine is tested without any."""
    import ast

    import orchestra.runtime

    path = Path(orchestra.runtime.__file__).parent / f"{module}.py"
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert imported <= PURE_IMPORTS, imported - PURE_IMPORTS


def test_events_and_actions_are_values_of_their_own_kind() -> None:
    """They are tuples underneath: equal only to the same kind, hashed with it, always true."""
    assert ev.Spawned(7) != ev.SignalRequested(7)
    assert ev.Spawn() != ev.Finish()
    assert ev.Spawned(7) == ev.Spawned(7)
    assert (ev.Spawned(7) != ev.Spawned(7)) is False
    assert len({ev.Spawn(), ev.Finish(), ev.AwaitDependencies(), ev.Spawn()}) == 3
    assert all(kind() for kind in (ev.DependenciesMet, ev.Spawn, ev.Finish, ev.KillRequested))
    with pytest.raises(AttributeError):
        ev.Spawned(7).pid = 8  # type: ignore[misc]
