"""`orchestra tui`: a live view of the running stack (`orchestra/tui/`).

textual is an optional extra (`pip install 'orchestra[tui]'`): the core stays lean, and the
view is imported only once this command runs. The view is a client of the control socket:
quitting it leaves the stack running, and it says so.
"""

from __future__ import annotations

import typer

from orchestra.cli.control import ProjectOption, _socket
from orchestra.cli.options import AppRootOption, FileOption, with_globals


def tui(ctx: typer.Context, file: FileOption = None, app_root: AppRootOption = None,
        project_name: ProjectOption = None) -> None:
    """A live view of the running stack: every instance's state, readiness, pid, uptime,
    restarts, CPU and memory; the selected one's log with a filter; keys to restart (r),
    stop (x) and start (s) it, attach to its terminal (a, for a `tty: true` service; Ctrl-]
    comes back), the dependency graph (g), and down (d, confirmed). Quitting (q) leaves the
    stack running."""
    from orchestra.tui.view import after_view, open_view, require_textual

    require_textual()
    stopped = open_view(_socket(ctx, file, app_root, project_name))
    where = with_globals(ctx, file, None, app_root)
    typer.echo(after_view(stopped, where.file, where.app_root, project_name), err=True)
