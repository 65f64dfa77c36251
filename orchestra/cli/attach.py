"""`orchestra attach SERVICE`: the command; the terminal work is `control/attach_client.py`."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestra.cli.control import ProjectOption, _socket
from orchestra.cli.options import AppRootOption, FileOption


def attach_command(
        ctx: typer.Context,
        service: Annotated[str, typer.Argument(
            help="A `tty: true` service (with one instance) or an instance (web.1).")],
        file: FileOption = None, app_root: AppRootOption = None,
        project_name: ProjectOption = None) -> None:
    """Connect this terminal to a `tty: true` service of the running stack: keys go to the
    service (Ctrl-C too), its output comes back as it wrote it, starting with its last lines
    (a prompt that waits). Ctrl-] detaches and leaves
    it running. Several terminals may attach at once; if the service restarts, the attach
    ends (attach again). With stdin not a terminal, its bytes are sent as they come."""
    from orchestra.control.attach_client import attach

    raise typer.Exit(attach(_socket(ctx, file, app_root, project_name), service))
