"""The one place where errors become messages and exit codes (0 ok, 1 runtime failure,
2 usage or config error), for the quick path and the typer CLI alike. Never a traceback for
a user's mistake."""

from __future__ import annotations

import sys
from collections.abc import Callable

from orchestra.errors import ConfigError, OrchestraError, printable


def report(exc: OrchestraError) -> None:
    if isinstance(exc, ConfigError):
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        count = len(exc.problems)
        if count > 1:
            print(f"{count} problems; nothing was started", file=sys.stderr)
    else:
        print(f"error: {printable(str(exc))}", file=sys.stderr)


def exit_code_of(command: Callable[[], int]) -> int:
    """Run `command`; its exit code, or the reported error's."""
    try:
        return command()
    except OrchestraError as exc:
        report(exc)
        return exc.exit_code
