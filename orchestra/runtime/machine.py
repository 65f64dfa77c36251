"""One service instance's decisions as a pure function: `step(facts, event, given)`.

Start, ready, not ready, restart or give up, stop, skip: every decision about a runner is made
here, from its `Facts` and one event (`runtime/events.py`), and answered with the new facts and
the actions for the shell (`runtime/service.py`) to perform. No asyncio, no clock, no I/O: the
shell passes the time in (`Given.now`), and tests/test_machine.py drives every transition of
`states.TRANSITIONS` as table rows, with no process at all. The restart decision itself is
`policy.decide`.

Each handler below builds one `Step` (`runtime/machine_step.py`), whose `move` is the only
code that changes a state: it checks the edge against the table and reports it.
"""

from __future__ import annotations

import signal
from typing import Any

from orchestra.config.values import signal_name
from orchestra.runtime import events as ev
from orchestra.runtime.exit_status import ExitStatus
from orchestra.runtime.facts import NOT_STARTED, STOP_REASON, Facts, Given
from orchestra.runtime.machine_step import Step
from orchestra.runtime.states import FINAL, State

#: The exit code reported for a run that orchestra ended because a check failed.
CHECK_FAILED_CODE = 1
#: The readiness of a run from its spawn until its check passes or reports an attempt.
WAITING_FOR_CHECK = "not ready: its readiness check has not passed yet"


def step(facts: Facts, event: ev.Event, given: Given) -> tuple[Facts, tuple[ev.Action, ...]]:
    """The new facts and the actions that `event` calls for."""
    s = Step(facts, given)
    handler = _HANDLERS[type(event)]
    handler(s, event)
    return s.facts, tuple(s.actions)


# ---------------------------------------------------------------------- starting


def _dependencies_met(s: Step, _: ev.DependenciesMet) -> None:
    if s.facts.state is not State.PENDING:
        return
    if s.facts.stop_requested:
        _dependency_blocked(s, ev.DependencyBlocked(s.facts.stop_reason))
        return
    _start(s)


def _dependency_blocked(s: Step, event: ev.DependencyBlocked) -> None:
    if s.facts.state is not State.PENDING:
        return
    s.set(failure=f"skipped: {event.reason}")
    s.move(State.SKIPPED, s.facts.failure, reason=event.reason)
    s.finish()


def _start(s: Step) -> None:
    s.move(State.STARTING, None)
    s.set(check_failure=None, exit_seen=False, kill_at=None)
    s.actions.append(ev.Spawn())


def _spawned(s: Step, event: ev.Spawned) -> None:
    if s.facts.state is not State.STARTING:
        return
    # "not started" no more; a `log` or `notify` check says nothing until it passes
    s.set(run=s.facts.run + 1, pid=event.pid, run_began=s.given.now, has_started=True,
          started_this_run=True, ready_reason=WAITING_FOR_CHECK)
    s.move(State.RUNNING, f"started pid={event.pid}", pid=event.pid)
    if s.facts.stop_requested:   # cannot happen today (no await in between); never ignored
        s.terminate()


def _spawn_failed(s: Step, event: ev.SpawnFailed) -> None:
    if s.facts.state is not State.STARTING:
        return
    s.set(exit_status=ExitStatus(event.code, None), failure=f"cannot start: {event.message}",
          uptime=0.0)
    s.move(State.FAILED, s.facts.failure, rc=event.code)
    _after_run(s)


def _backoff_elapsed(s: Step, _: ev.BackoffElapsed) -> None:
    if s.facts.state is not State.BACKOFF:
        return
    if s.facts.stop_requested:
        _stopped_in_backoff(s)
        return
    s.set(in_a_row=s.facts.next_attempt, restarts=s.facts.restarts + 1)
    _start(s)


def _stopped_in_backoff(s: Step) -> None:
    # not "restarting in N s" any more (`ps` showed it as the stopped service's readiness)
    s.set(ready_reason="not ready: stopped while waiting to restart")
    s.move(State.EXITED, "stopped while waiting to restart")
    s.finish()


def _start_requested(s: Step, _: ev.StartRequested) -> None:
    """Back to pending, to wait for its dependencies and run again, readiness and all."""
    if not s.facts.finished:
        return
    s.set(stop_requested=False, stop_reason=STOP_REASON, stopped_on_request=False,
          ready=False, became_ready=False, started_this_run=False, exit_status=None,
          restart_forgone=False, in_a_row=0, finished=False, ready_reason=NOT_STARTED)
    s.move(State.PENDING, "starting again on request")
    s.actions.append(ev.AwaitDependencies())


# ---------------------------------------------------------------------- checks


def _of_this_run(s: Step, run: int) -> bool:
    """A check belongs to the process it watched: never another run's."""
    return run == s.facts.run and s.facts.state in (State.RUNNING, State.STOPPING)


def _not_ready(s: Step, event: ev.NotReady) -> None:
    if not _of_this_run(s, event.run) or s.facts.exit_seen:
        return
    s.set(ready_reason=f"not ready: {event.reason}")
    s.say(s.facts.ready_reason, "not-ready", reason=event.reason)


def _became_ready(s: Step, event: ev.BecameReady) -> None:
    if not _of_this_run(s, event.run):
        return
    # after the exit was seen (or the stop signal sent) it is ready no more, but it was (a
    # one-shot that then completed)
    s.set(became_ready=True)
    if not s.facts.exit_seen and s.facts.state is State.RUNNING:
        s.set(ready=True, ready_reason=event.reason)
    # not after its stop signal: "ready" while it goes away would mislead, and it stays not
    # ready (its readiness says it is being stopped)
    if s.given.service.readiness is not None and s.facts.state is not State.STOPPING:
        s.say(f"ready: {event.reason}", "ready", reason=event.reason)


def _check_failed(s: Step, event: ev.CheckFailed) -> None:
    if event.run != s.facts.run or s.facts.state is not State.RUNNING:
        return
    s.set(check_failure=event.reason)
    if not s.facts.exit_seen:
        s.set(ready=False, ready_reason=event.reason)
    s.say(event.reason, "check-failed", reason=event.reason)
    s.terminate()


# ---------------------------------------------------------------------- the end of a run


def _exit_observed(s: Step, event: ev.ExitObserved) -> None:
    if not _of_this_run(s, event.run) or s.facts.exit_seen:
        return
    s.set(exit_seen=True, uptime=s.given.now - s.facts.run_began, ready=False,
          ready_reason=f"not ready: {event.status.describe()}")
    if s.facts.state is State.RUNNING:   # clean-up sends the group its stop signal now
        s.set(signalled_at=s.given.now, kill_at=s.given.now + s.given.stop_timeout)


def _exited(s: Step, event: ev.Exited) -> None:
    if not _of_this_run(s, event.run):
        return
    status, facts = event.status, s.facts
    if not facts.exit_seen:   # the shell always reports the exit first; never lose the uptime
        _exit_observed(s, ev.ExitObserved(event.run, status))
    s.set(pid=None, became_ready=s.facts.became_ready or event.log_line_seen)
    fields = {"rc": status.code, "signal": status.signal_name}
    if facts.check_failure is not None:
        s.set(exit_status=ExitStatus(CHECK_FAILED_CODE, None), failure=facts.check_failure)
        s.move(State.FAILED, f"failed: {facts.check_failure} ({status.describe_flat()})", **fields)
    elif facts.state is State.STOPPING:
        s.set(exit_status=status)
        s.move(State.EXITED, f"stopped by {status.signal_name}" if status.signal
               else status.describe(), **fields)
    else:
        s.set(exit_status=status, failure=status.describe())
        s.move(State.EXITED if status.code == 0 else State.FAILED, status.describe(), **fields)
    _after_run(s)


def _after_run(s: Step) -> None:
    """Restart, or give up: the policy's decision, unless orchestra is stopping it."""
    from orchestra.runtime.policy import decide  # when a run has ended, not at every start

    facts, policy = s.facts, s.given.service.restart
    assert facts.exit_status is not None
    decision = decide(policy, exit_code=facts.exit_status.code, stopped_by_us=False,
                      restarts=facts.in_a_row, uptime=facts.uptime,
                      liveness_failed=facts.check_failure is not None)
    if facts.stop_requested:
        # ended on its own while orchestra was stopping: only the stop keeps it from being
        # restarted, so its failure is no failure of the run
        s.set(restart_forgone=decision.restart)
        s.finish()
    elif not decision.restart:
        if decision.exhausted:
            s.say(f"giving up: {decision.reason}", "giving-up")
        s.finish()
    else:
        s.set(ready_reason=f"not ready: {decision.reason}", next_attempt=decision.attempt)
        s.move(State.BACKOFF, decision.reason, delay=decision.delay, attempt=decision.attempt,
               max_restarts=policy.max_restarts)
        s.actions.append(ev.ArmBackoff(decision.delay))


# ---------------------------------------------------------------------- requests


def _stop_requested(s: Step, event: ev.StopRequested) -> None:
    s.set(stop_requested=True)
    if event.on_request:
        s.set(stopped_on_request=True, stop_reason="stopped on request")
    if s.facts.state is State.BACKOFF:
        _stopped_in_backoff(s)
    elif s.facts.state is State.STOPPING or s.facts.exit_seen:   # a stop, or clean-up
        s.hasten_kill()
    else:   # pending: its wait for dependencies sees the stop and skips it
        s.terminate()


def _kill_requested(s: Step, _: ev.KillRequested) -> None:
    """SIGKILL the group now. A run not yet signalled (a later stop wave) is stopped by the
    user, like the others: "stopped by SIGKILL", not a failure that would make the exit
    code 137 instead of the signal's."""
    s.set(stop_requested=True)
    facts = s.facts
    if facts.state is State.BACKOFF:
        _stopped_in_backoff(s)
        return
    if facts.pid is None:
        return
    if facts.state is State.RUNNING and not facts.exit_seen:
        s.move(State.STOPPING, f"sending SIGKILL to process group {facts.pid}",
               signal=signal_name(signal.SIGKILL))
    # during clean-up too: its group, while clean-up waits for it to empty
    s.actions.append(ev.SignalGroup(facts.pid, signal.SIGKILL))


def _kill_timer_fired(s: Step, event: ev.KillTimerFired) -> None:
    if event.run != s.facts.run or s.facts.pid is None:
        return
    if s.facts.exit_seen:   # hastened during clean-up, which owns the group
        s.set(kill_at=None)
        s.actions.append(ev.KillLeftovers())
        return
    s.say(f"still running {event.after:g} s after its stop signal; sending SIGKILL", "kill")
    s.set(kill_at=None)
    s.actions.append(ev.SignalGroup(s.facts.pid, signal.SIGKILL))


def _signal_requested(s: Step, event: ev.SignalRequested) -> None:
    if s.facts.state is State.RUNNING and s.facts.pid is not None:
        s.actions.append(ev.SignalGroup(s.facts.pid, event.signal))


def _internal_error(s: Step, event: ev.InternalError) -> None:
    """A bug must not leave shutdown waiting: kill the group and end the runner as failed
    (a runner that had already ended keeps its outcome)."""
    s.say(f"internal error: {event.text}", "internal-error")
    if s.facts.pid is not None:
        s.actions.append(ev.SignalGroup(s.facts.pid, signal.SIGKILL))
    if s.facts.finished:
        return
    if s.facts.state not in FINAL:
        s.set(exit_status=ExitStatus(1, None), failure=f"internal error: {event.text}",
              pid=None)
        s.move(State.FAILED, None)
    s.finish()


_HANDLERS: dict[type, Any] = {
    ev.DependenciesMet: _dependencies_met, ev.DependencyBlocked: _dependency_blocked,
    ev.Spawned: _spawned, ev.SpawnFailed: _spawn_failed, ev.NotReady: _not_ready,
    ev.BecameReady: _became_ready, ev.CheckFailed: _check_failed,
    ev.ExitObserved: _exit_observed, ev.Exited: _exited, ev.KillTimerFired: _kill_timer_fired,
    ev.BackoffElapsed: _backoff_elapsed, ev.StopRequested: _stop_requested,
    ev.KillRequested: _kill_requested, ev.SignalRequested: _signal_requested,
    ev.StartRequested: _start_requested, ev.InternalError: _internal_error,
}
