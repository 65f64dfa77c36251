"""Any orchestra subcommand
(not only `up`) as a real process in a test project, with the project's mark."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from helpers.orch import PY, Orchestra, Project, Result

#: `up`/`run` flags for text output that `Result.of()` can parse.
TEXT = ("--no-timestamps", "--no-color")


class Cli:
    """Starts `python -m orchestra ARGS` in the project folder; closes them all at teardown."""

    def __init__(self, project: Project, env: Mapping[str, str] | None = None) -> None:
        self.project = project
        self.base_env = dict(env or {})     # under each call's `env`
        self._started: list[Orchestra] = []

    def start(self, *args: str, env: Mapping[str, str] | None = None,
              cwd: Path | None = None, merge_stderr: bool | None = None) -> Orchestra:
        """`merge_stderr` None: merged for `run --with`, whose service and system lines go to
        stderr (the command's stdout stays its own), so a test reads them in order with it."""
        if merge_stderr is None:
            merge_stderr = "run" in args and any(a.startswith("--with") for a in args)
        orch = Orchestra([PY, "-m", "orchestra", *args],
                         self.project.root if cwd is None else cwd,
                         self.project.env({**self.base_env, **(env or {})}),
                         merge_stderr=merge_stderr)
        self._started.append(orch)
        return orch

    def run(self, *args: str, timeout: float = 20.0, env: Mapping[str, str] | None = None,
            cwd: Path | None = None, merge_stderr: bool | None = None) -> Result:
        """Run `orchestra ARGS` to its end (at most `timeout` seconds)."""
        return self.start(*args, env=env, cwd=cwd, merge_stderr=merge_stderr).wait(timeout)

    def close(self) -> None:
        for orch in self._started:
            orch.close()


#: The console script, as a user runs it (not `python -m orchestra`, which has its own
#: sys.path[0] = cwd problem before orchestra's code even runs).
CONSOLE = str(Path(sys.executable).with_name("orchestra"))


def run_orchestra(project: Project, started: list[Orchestra], args: Sequence[str], *,
                  cwd: Path | None = None, env: dict[str, str] | None = None,
                  timeout: float = 20.0,
                  argv0: Sequence[str] = (PY, "-m", "orchestra")) -> Result:
    """`orchestra ARGS` (by `argv0`) to its end in the project; closed by the caller's list."""
    orch = Orchestra([*argv0, *args], cwd or project.root, project.env(env))
    started.append(orch)
    return orch.wait(timeout)


def no_traceback(result: Result) -> bool:
    return "Traceback" not in result.err.decode(errors="replace")
