"""Restart decisions as a pure function (DESIGN §3.1, `runtime/policy`).

Given the restart policy, how the run ended, how many restarts happened in a row and how long
the run lasted, decide whether to restart and after how long. No clock, no I/O: the table in
tests/test_policy.py is the specification.
"""

# Annotations are evaluated here, not kept as strings: see orchestra/records.py.

from typing import NamedTuple

from orchestra.config.model import RestartMode, RestartPolicy

#: The backoff doubles from `restart.backoff` up to this many seconds.
BACKOFF_CAP = 30.0
#: A run that lasted this long resets the backoff and the count of restarts in a row.
STABLE_AFTER = 10.0


class Decision(NamedTuple):
    """Whether to start an ended run again; the reason is shown to the user either way.

    A NamedTuple, not a frozen dataclass, for the cost of a start (see runtime/events.py)."""

    restart: bool
    delay: float          # seconds to wait in `backoff` before starting again
    attempt: int          # the number of the coming restart (1-based); 0 when not restarting
    reason: str           # why, for the user
    exhausted: bool = False   # not restarting because max_restarts is used up


def decide(policy: RestartPolicy, *, exit_code: int, stopped_by_us: bool, restarts: int,
           uptime: float, liveness_failed: bool = False) -> Decision:
    """Whether to restart a run that just ended.

    `restarts` counts restarts in a row before this run; a run that stayed up for
    `STABLE_AFTER` seconds starts a new series (count and backoff reset).
    """
    if stopped_by_us:
        return Decision(False, 0.0, 0, "stopped by orchestra")
    failed = exit_code != 0 or liveness_failed
    if policy.mode is RestartMode.NO:
        return Decision(False, 0.0, 0, "restart policy is 'no'")
    if policy.mode is RestartMode.ON_FAILURE and not failed:
        return Decision(False, 0.0, 0, "completed (restart policy is 'on-failure')")
    in_a_row = 0 if uptime >= STABLE_AFTER else restarts
    if policy.max_restarts is not None and in_a_row >= policy.max_restarts:
        if policy.max_restarts == 0:
            return Decision(False, 0.0, 0, "no restarts allowed (max_restarts: 0)",
                            exhausted=True)
        restarts_text = "1 restart" if in_a_row == 1 else f"{in_a_row} restarts"
        return Decision(False, 0.0, 0, f"{restarts_text} in a row "
                                       f"(max_restarts: {policy.max_restarts})", exhausted=True)
    # the exponent is capped: the cap is reached long before, and 2**n must not overflow
    delay = min(max(BACKOFF_CAP, policy.backoff), policy.backoff * 2.0 ** min(in_a_row, 64))
    attempt = in_a_row + 1
    limit = f" of {policy.max_restarts}" if policy.max_restarts is not None else ""
    return Decision(True, delay, attempt, f"restarting in {delay:g} s (attempt {attempt}{limit})")
