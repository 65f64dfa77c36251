"""The run's exit code, from the reasons it ended, by precedence (DESIGN §3.2).

Each reason keeps the first code it saw; the first reason present, in this order, decides:
- `exit-code-from`: `--exit-code-from SVC`: the code of the first instance of SVC that ran
  and ended, on its own or by `orchestra stop` (as docker compose does); 1 when
  `orchestra stop` stopped it before it ran (it never will: the run fails, as for a skip);
- `failure`: the first service that failed on its own (not stopped by orchestra): its code —
  even when a signal arrived while its exit was still being cleaned up, unless its restart
  policy would have restarted it (then only the stop prevented that: it is no failure of the
  run); 1 for a service skipped because a dependency ended without meeting its condition;
- `command`: `orchestra run --with`: the command's code;
- `signal`: stopped by the user's signal: 128 + the signal (130 SIGINT, 143 SIGTERM, 129 SIGHUP);
- `output`: orchestra's own stdout broke: 1;
- otherwise (every service completed, or was stopped as asked): 0.
"""

from __future__ import annotations

from typing import Literal

Reason = Literal["exit-code-from", "failure", "command", "signal", "output"]
EXIT_CODE_PRECEDENCE: tuple[Reason, ...] = (
    "exit-code-from", "failure", "command", "signal", "output")


class ExitCodes:
    """The first code of each reason the run ended for; `code` applies the precedence."""

    def __init__(self) -> None:
        self._codes: dict[Reason, int] = {}

    def record(self, reason: Reason, code: int) -> None:
        self._codes.setdefault(reason, code)

    def __contains__(self, reason: Reason) -> bool:
        return reason in self._codes

    @property
    def code(self) -> int:
        for reason in EXIT_CODE_PRECEDENCE:
            if reason in self._codes:
                return self._codes[reason]
        return 0
