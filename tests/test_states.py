"""The state machine of one service instance (DESIGN §3.1, `runtime/states.py`)."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from orchestra.runtime.states import (
    FINAL,
    TRANSITIONS,
    State,
    TransitionError,
    check_transition,
)

S = State

#: Every edge the lifecycle needs (DESIGN §3.1 and runtime/machine.py), each with why.
NEEDED = [
    (S.PENDING, S.STARTING),    # dependencies satisfied
    (S.PENDING, S.SKIPPED),     # a dependency failed, or orchestra is stopping
    (S.PENDING, S.FAILED),      # an internal error (a bug) ended the runner
    (S.STARTING, S.RUNNING),    # spawned
    (S.STARTING, S.FAILED),     # executable or directory missing
    (S.RUNNING, S.STOPPING),    # stop signal sent (by the user, or a check failed)
    (S.RUNNING, S.EXITED),      # exited 0 on its own
    (S.RUNNING, S.FAILED),      # exited non-zero / killed on its own
    (S.STOPPING, S.EXITED),     # went away after its stop signal
    (S.STOPPING, S.FAILED),     # a check ended it: counts as a failure
    (S.EXITED, S.BACKOFF),      # restart policy `always`
    (S.FAILED, S.BACKOFF),      # restart policy `on-failure` / `always`
    (S.BACKOFF, S.STARTING),    # the delay passed
    (S.BACKOFF, S.EXITED),      # stopped while waiting to restart
    (S.BACKOFF, S.FAILED),      # an internal error (a bug) ended the runner
    (S.EXITED, S.PENDING),      # `orchestra restart`/`start`: it runs again
    (S.FAILED, S.PENDING),
    (S.SKIPPED, S.PENDING),
]

FORBIDDEN = [
    (S.PENDING, S.RUNNING),     # never running without being spawned
    (S.PENDING, S.EXITED),
    (S.PENDING, S.BACKOFF),
    (S.PENDING, S.STOPPING),
    (S.STARTING, S.STOPPING),   # no await between spawn and RUNNING
    (S.STARTING, S.EXITED),
    (S.STARTING, S.SKIPPED),
    (S.STARTING, S.BACKOFF),
    (S.RUNNING, S.PENDING),
    (S.RUNNING, S.STARTING),
    (S.RUNNING, S.BACKOFF),     # a run ends (exited/failed) before backoff
    (S.RUNNING, S.SKIPPED),
    (S.STOPPING, S.RUNNING),
    (S.STOPPING, S.BACKOFF),
    (S.STOPPING, S.STARTING),
    (S.BACKOFF, S.RUNNING),
    (S.BACKOFF, S.STOPPING),
    (S.BACKOFF, S.SKIPPED),     # it has started before: "skipped" means never started
    (S.EXITED, S.STARTING),     # a restart always goes through backoff
    (S.EXITED, S.RUNNING),
    (S.EXITED, S.FAILED),
    (S.FAILED, S.STARTING),
    (S.FAILED, S.EXITED),
    (S.FAILED, S.RUNNING),
    (S.SKIPPED, S.STARTING),
    (S.SKIPPED, S.BACKOFF),
]


def test_states_are_the_documented_ones() -> None:
    assert {s.value for s in State} == {
        "pending", "starting", "running", "stopping", "backoff", "exited", "failed", "skipped"}
    assert "ready" not in {s.value for s in State}   # readiness is a separate axis
    assert set(TRANSITIONS) == set(State)


@pytest.mark.parametrize(("origin", "target"), NEEDED, ids=lambda s: str(s))
def test_needed_edges_are_allowed(origin: State, target: State) -> None:
    check_transition(origin, target)


@pytest.mark.parametrize(("origin", "target"),
                         sorted((a, b) for a, targets in TRANSITIONS.items() for b in targets),
                         ids=lambda s: str(s))
def test_every_edge_in_the_table_passes(origin: State, target: State) -> None:
    check_transition(origin, target)


@pytest.mark.parametrize(("origin", "target"), FORBIDDEN, ids=lambda s: str(s))
def test_forbidden_edges_raise(origin: State, target: State) -> None:
    with pytest.raises(TransitionError, match=f"{origin.value} -> {target.value}"):
        check_transition(origin, target)


def test_everything_outside_the_table_raises() -> None:
    for origin, target in itertools.product(State, State):
        if target in TRANSITIONS[origin]:
            continue
        with pytest.raises(TransitionError):
            check_transition(origin, target)


def test_no_self_loops() -> None:
    for state in State:
        assert state not in TRANSITIONS[state], state


def test_final_states_leave_only_through_the_restart_edges() -> None:
    assert frozenset({S.EXITED, S.FAILED, S.SKIPPED}) == FINAL
    for state in FINAL:
        assert TRANSITIONS[state] <= {S.BACKOFF, S.PENDING}, state
    # never started: never restarted by the policy, only started again on request
    assert TRANSITIONS[S.SKIPPED] == frozenset({S.PENDING})


def test_every_state_can_reach_a_final_state() -> None:
    """Nothing can be left pending (or backing off) forever by the state machine itself."""
    for start in State:
        seen, todo = {start}, [start]
        while todo:
            for nxt in TRANSITIONS[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        assert seen & FINAL, start


def test_the_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        TRANSITIONS[S.SKIPPED] = frozenset({S.STARTING})  # type: ignore[index]


def test_a_change_between_asking_and_awaiting_is_not_missed(tmp_path: Path) -> None:
    """A waiter created before a change and first run after it still sees that change.

    `run --with` waits for every service to be ready; a log line that makes a service ready
    in the same loop iteration as the waiter is created must not leave the command waiting.
    """
    import asyncio

    from orchestra.config.loader import LoadOptions, load_spec
    from orchestra.output.mux import Multiplexer
    from orchestra.output.options import OutputOptions
    from orchestra.plan import Selection, make_plan
    from orchestra.runtime.lifeline import Lifeline
    from orchestra.runtime.service import RunContext, ServiceRunner

    (tmp_path / "orchestra.yaml").write_text("services:\n  web: {command: 'true'}\n")
    plan = make_plan(load_spec(LoadOptions(cwd=tmp_path, environ={})), Selection(), {})

    async def main() -> None:
        with open(os.devnull, "wb") as sink:
            mux = Multiplexer(sink.fileno(), ["system", "web"], OutputOptions())
            context = RunContext(mux, Lifeline(), {}, lambda _: 1.0, lambda _: None,
                                 lambda name: tmp_path / name)
            runner = ServiceRunner(plan.instances[0], context)
            waiter = asyncio.ensure_future(runner.changed())
            runner._notify_change()   # before the waiter's task has run once
            await asyncio.wait_for(waiter, 2.0)

    asyncio.run(main())
