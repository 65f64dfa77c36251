"""The restart decision as a table (DESIGN §3.1; docs/CONFIG.md `restart`).

`decide()` is pure: these rows are its specification. Columns: policy, how the run ended
(exit code, stopped by orchestra, a liveness/readiness check ended it), restarts in a row
before this run, how long the run was up.
"""

from __future__ import annotations

import itertools

import pytest

from orchestra.config.model import RestartMode, RestartPolicy
from orchestra.runtime.policy import BACKOFF_CAP, STABLE_AFTER, Decision, decide

NO = RestartMode.NO
ON_FAILURE = RestartMode.ON_FAILURE
ALWAYS = RestartMode.ALWAYS

SHORT = 0.5      # a run that did not stay up long enough to reset the series
STABLE = 10.0    # a run that stayed up for 10 s: the series starts again


def policy(mode: RestartMode, max_restarts: int | None = None,
           backoff: float = 1.0) -> RestartPolicy:
    return RestartPolicy(mode=mode, max_restarts=max_restarts, backoff=backoff)


def run(pol: RestartPolicy, *, rc: int = 1, by_us: bool = False, restarts: int = 0,
        uptime: float = SHORT, liveness: bool = False) -> Decision:
    return decide(pol, exit_code=rc, stopped_by_us=by_us, restarts=restarts, uptime=uptime,
                  liveness_failed=liveness)


def test_constants_match_the_contract() -> None:
    assert BACKOFF_CAP == 30.0
    assert STABLE_AFTER == 10.0


# -------------------------------------------------------------------- whether to restart

# mode, rc, stopped_by_us, liveness_failed -> restart?
WHETHER = [
    # policy `no`: never
    (NO, 0, False, False, False),
    (NO, 1, False, False, False),
    (NO, 137, False, False, False),
    (NO, 0, False, True, False),
    (NO, 1, True, False, False),
    # `on-failure`: non-zero, killed, or a check ended it
    (ON_FAILURE, 0, False, False, False),
    (ON_FAILURE, 1, False, False, True),
    (ON_FAILURE, 2, False, False, True),
    (ON_FAILURE, 128 + 9, False, False, True),
    (ON_FAILURE, 128 + 15, False, False, True),
    (ON_FAILURE, 0, False, True, True),      # a check ended it, even if it then exited 0
    (ON_FAILURE, 143, False, True, True),
    (ON_FAILURE, 1, True, False, False),     # orchestra stopped it: never restarted
    (ON_FAILURE, 143, True, False, False),
    (ON_FAILURE, 0, True, True, False),
    # `always`: whenever it exits on its own
    (ALWAYS, 0, False, False, True),
    (ALWAYS, 1, False, False, True),
    (ALWAYS, 137, False, False, True),
    (ALWAYS, 0, False, True, True),
    (ALWAYS, 0, True, False, False),
    (ALWAYS, 143, True, False, False),
    (ALWAYS, 1, True, True, False),
]


@pytest.mark.parametrize(("mode", "rc", "by_us", "liveness", "expected"), WHETHER)
@pytest.mark.parametrize("max_restarts", [None, 5])
def test_whether_to_restart(mode: RestartMode, rc: int, by_us: bool, liveness: bool,
                            expected: bool, max_restarts: int | None) -> None:
    decision = run(policy(mode, max_restarts), rc=rc, by_us=by_us, liveness=liveness)
    assert decision.restart is expected, decision
    if expected:
        assert decision.attempt == 1
        assert decision.delay == 1.0
    else:
        assert decision.attempt == 0
        assert decision.delay == 0.0
    assert decision.reason


def test_every_combination_is_answered_consistently() -> None:
    """The full product of the inputs: the rules hold everywhere, not just in the rows above."""
    for mode, rc, by_us, liveness, restarts, uptime, max_restarts in itertools.product(
            RestartMode, (0, 1, 130, 137), (False, True), (False, True), (0, 1, 2, 3, 7),
            (0.0, SHORT, 9.99, STABLE, 100.0), (None, 0, 1, 3)):
        decision = run(policy(mode, max_restarts), rc=rc, by_us=by_us, restarts=restarts,
                       uptime=uptime, liveness=liveness)
        failed = rc != 0 or liveness
        wanted = (not by_us and mode is not NO and (mode is ALWAYS or failed))
        in_a_row = 0 if uptime >= STABLE_AFTER else restarts
        if max_restarts is not None and in_a_row >= max_restarts:
            wanted = False
        where = (mode, rc, by_us, liveness, restarts, uptime, max_restarts, decision)
        assert decision.restart is wanted, where
        if wanted:
            assert decision.attempt == in_a_row + 1, where
            assert decision.delay == min(BACKOFF_CAP, 2.0 ** in_a_row), where
        else:
            assert (decision.attempt, decision.delay) == (0, 0.0), where


def test_reasons_name_why() -> None:
    assert run(policy(ON_FAILURE), by_us=True).reason == "stopped by orchestra"
    assert "'no'" in run(policy(NO)).reason
    assert "completed" in run(policy(ON_FAILURE), rc=0).reason


# -------------------------------------------------------------------- max_restarts

@pytest.mark.parametrize(("max_restarts", "restarts", "expected"), [
    (0, 0, False),          # max_restarts: 0 -> never restarted
    (1, 0, True),
    (1, 1, False),
    (3, 0, True),
    (3, 2, True),
    (3, 3, False),          # the 4th run failed: 3 restarts were allowed, no more
    (3, 4, False),
    (None, 0, True),
    (None, 50, True),       # unset: unlimited
    (None, 10_000, True),
])
@pytest.mark.parametrize("mode", [ON_FAILURE, ALWAYS])
def test_max_restarts(mode: RestartMode, max_restarts: int | None, restarts: int,
                      expected: bool) -> None:
    decision = run(policy(mode, max_restarts), restarts=restarts)
    assert decision.restart is expected, decision
    if expected:
        assert decision.attempt == restarts + 1
    else:
        plural = "" if restarts == 1 else "s"
        assert decision.reason == (
            "no restarts allowed (max_restarts: 0)" if max_restarts == 0
            else f"{restarts} restart{plural} in a row (max_restarts: {max_restarts})")
        assert decision.exhausted


def test_max_restarts_three_gives_exactly_four_runs() -> None:
    """Simulate the runner's loop: restarts = the attempt of the previous decision."""
    pol = policy(ON_FAILURE, max_restarts=3, backoff=0.1)
    runs, restarts, delays = 0, 0, []
    while True:
        runs += 1
        decision = run(pol, rc=1, restarts=restarts)
        if not decision.restart:
            break
        delays.append(decision.delay)
        restarts = decision.attempt
        assert runs < 100
    assert runs == 4
    assert delays == pytest.approx([0.1, 0.2, 0.4])


# -------------------------------------------------------------------- uptime reset

@pytest.mark.parametrize(("uptime", "resets"), [
    (0.0, False), (SHORT, False), (9.0, False), (9.999, False),
    (STABLE_AFTER, True), (10.001, True), (3600.0, True),
])
def test_a_stable_run_resets_count_and_backoff(uptime: float, resets: bool) -> None:
    pol = policy(ON_FAILURE, max_restarts=3, backoff=1.0)
    decision = run(pol, restarts=3, uptime=uptime)
    if resets:
        assert decision == Decision(True, 1.0, 1, "restarting in 1 s (attempt 1 of 3)")
    else:
        assert decision.restart is False
    # below the limit, the reset shows in the delay and the attempt number
    decision = run(pol, restarts=2, uptime=uptime)
    assert decision.restart is True
    assert (decision.delay, decision.attempt) == ((1.0, 1) if resets else (4.0, 3))


def test_a_stable_run_does_not_resurrect_a_service_stopped_by_us() -> None:
    assert run(policy(ALWAYS), by_us=True, uptime=1000.0).restart is False


# -------------------------------------------------------------------- backoff

@pytest.mark.parametrize(("backoff", "expected"), [
    (1.0, [1, 2, 4, 8, 16, 30, 30, 30]),
    (0.1, [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30, 30]),
    (0.5, [0.5, 1, 2, 4, 8, 16, 30, 30]),
    (7.0, [7, 14, 28, 30, 30]),
    (30.0, [30, 30, 30]),
    (45.0, [45, 45, 45]),           # a backoff above the cap is used as it is (CONFIG.md)
    (0.0, [0, 0, 0]),
])
def test_backoff_doubles_up_to_the_cap(backoff: float, expected: list[float]) -> None:
    pol = policy(ALWAYS, backoff=backoff)
    delays = [run(pol, restarts=n).delay for n in range(len(expected))]
    assert delays == pytest.approx(expected)


def test_backoff_stays_capped_after_many_restarts() -> None:
    """No overflow and no growth past the cap, however long the series."""
    pol = policy(ON_FAILURE, backoff=1.0)
    for restarts in (30, 100, 1023, 5000):
        decision = run(pol, restarts=restarts)
        assert decision.restart is True
        assert decision.delay == BACKOFF_CAP


@pytest.mark.parametrize(("pol", "restarts", "text"), [
    (policy(ON_FAILURE, 5, 1.0), 0, "restarting in 1 s (attempt 1 of 5)"),
    (policy(ON_FAILURE, 5, 1.0), 1, "restarting in 2 s (attempt 2 of 5)"),
    (policy(ON_FAILURE, 5, 0.1), 2, "restarting in 0.4 s (attempt 3 of 5)"),
    (policy(ALWAYS, None, 2.0), 3, "restarting in 16 s (attempt 4)"),
    (policy(ALWAYS, None, 1.0), 9, "restarting in 30 s (attempt 10)"),
])
def test_restart_reason_text(pol: RestartPolicy, restarts: int, text: str) -> None:
    assert run(pol, restarts=restarts).reason == text


def test_decide_is_pure() -> None:
    pol = policy(ON_FAILURE, 4, 0.25)
    first = [run(pol, restarts=n) for n in range(6)]
    second = [run(pol, restarts=n) for n in range(6)]
    assert first == second
    assert pol == policy(ON_FAILURE, 4, 0.25)
