"""How a run behaves, decided by the command line; plain data.

NamedTuples rather than frozen dataclasses: they are made once by the command line, not part
of the model, and on the way to every run's first line, where a dataclass costs ~0.5 ms to
create (see runtime/events.py).
"""

# Annotations are evaluated here, not kept as strings: see orchestra/records.py.

from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:   # only `up --detach` makes one (runtime/loop.py)
    from orchestra.runtime.detach import Detached


class ForegroundCommand(NamedTuple):
    """`orchestra run`'s command: what to run, where, and with which complete environment."""

    argv: tuple[str, ...]
    cwd: str
    env: Mapping[str, str]


class RunSettings(NamedTuple):
    """How a run ends and reports: the command line's exit-policy and CI options."""

    stop_timeout: float | None = None     # -t/--timeout: overrides every service's
    abort_on_exit: bool = False           # any service ending stops everything
    exit_code_from: str | None = None     # stop when it ends, exit with its code
    foreground: ForegroundCommand | None = None   # `run --with`: run this once all are ready
    show_tails: bool = False              # `run --quiet-services`: last lines on failure
    github: bool = False                  # GITHUB_ACTIONS=true: ::error:: and ::group::
    project_name: str | None = None       # --project-name: names the control socket
    detached: "Detached | None" = None    # up --detach: report to the waiting command
    log_lines: int = 1000                 # --log-lines: each instance's ring for `logs`
    watch: bool = False                   # act on `watch:` (up, unless --no-watch)
