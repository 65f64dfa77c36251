"""Open the view on a running stack: what `orchestra tui` and `orchestra up --tui` share.

Importable without textual (nothing here imports it at module level), so that both commands
can say in one line that it is missing before anything starts — and so that the stack
`up --tui` forks into the background does not carry the view's modules.
"""

from __future__ import annotations

import importlib.util
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from orchestra.errors import OrchestraError

INSTALL_HINT = ("orchestra tui needs textual, which is not installed: "
                "pip install 'orchestra[tui]'")


class TuiUnavailable(OrchestraError):
    """textual is not installed."""


def require_textual() -> None:
    """Fail before anything starts when the view cannot be shown."""
    try:
        found = importlib.util.find_spec("textual") is not None
    except (ImportError, ValueError):   # ValueError: a module entry without a spec
        found = False
    if not found:
        raise TuiUnavailable(INSTALL_HINT)


def require_terminal() -> None:
    """The view reads keys from stdin and draws on stdout: with either redirected it would
    run unseen, forever (`orchestra up --tui > log` in a CI job)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise TuiUnavailable("orchestra tui needs a terminal (stdin and stdout); use "
                             "`orchestra ps` and `orchestra logs` without one")


def open_view(path: str) -> bool:
    """Show the view of the stack at `path` until the user quits; True if they stopped the
    stack with it. NotRunning when no stack answers there."""
    from orchestra.control import client
    from orchestra.tui.app import STOPPED, StackApp
    from orchestra.tui.graph import graph_of

    info = client.request(path, {"command": "info"}, timeout=10.0)
    require_terminal()
    info = info if isinstance(info, dict) else {}
    config = info.get("config")
    graph = graph_of(Path(config)) if isinstance(config, str) else "no config path\n"
    app = StackApp(path, str(info.get("project", Path(path).stem)), graph)
    return app.run() == STOPPED


def after_view(stopped: bool, files: Sequence[str], app_root: str | None,
               project_name: str | None) -> str:
    """What to tell the user once the view is closed: the stack runs on unless they
    stopped it, and how to stop it (with the options that found this project)."""
    if stopped:
        return "the stack was stopped"
    words = ["orchestra", "down"]
    if project_name:
        words += ["--project-name", project_name]
    else:
        for file in files:
            words += ["-f", str(file)]
        words += ["-d", str(app_root)] if app_root else []
    return f"the stack keeps running; stop it with `{shlex.join(words)}`"
