"""The typer signatures of `up` (alias `start`) and `run`: each builds its request and calls
the typer-free implementation in `cli/up.py` or `cli/run.py`.

Usually `cli/quick.py` reads these command lines without typer; typer sees them when the quick
parser does not recognise something (`--help`, a misspelt option, a value that is no number),
and its messages and help are then built from the same table (`cli/flags.py`).
"""

from __future__ import annotations

import difflib
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from orchestra.cli import flags
from orchestra.cli.options import (
    DEFAULT_MAX_LINE,
    AppRootOption,
    EnvOption,
    FileOption,
    MaxLineOption,
    NoColorOption,
    NoPrefixOption,
    NoTimestampsOption,
    OutputOption,
    PortOption,
    ProfileOption,
    RawOption,
    TimeoutOption,
    TtyOption,
    joined,
    option,
    with_globals,
)
from orchestra.cli.run import RunRequest
from orchestra.cli.run import run as run_command
from orchestra.cli.up import UpRequest
from orchestra.cli.up import up as up_command
from orchestra.errors import UsageError


def up(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(
        help="Services to start (plus their dependencies). Default: all enabled.")] = None,
    file: FileOption = None,
    env: EnvOption = None,
    app_root: AppRootOption = None,
    profiles: ProfileOption = None,
    namespace: Annotated[str | None, option(flags.NAMESPACE)] = None,
    formation: Annotated[list[str] | None, option(flags.FORMATION)] = None,
    port: PortOption = None,
    timeout: TimeoutOption = None,
    no_prefix: NoPrefixOption = False,
    no_timestamps: NoTimestampsOption = False,
    no_color: NoColorOption = False,
    quiet: Annotated[list[str] | None, option(flags.QUIET)] = None,
    output: OutputOption = "text",
    max_line: MaxLineOption = DEFAULT_MAX_LINE,
    raw: RawOption = False,
    tty: TtyOption = None,
    abort_on_exit: Annotated[bool, option(flags.ABORT_ON_EXIT)] = False,
    exit_code_from: Annotated[str | None, option(flags.EXIT_CODE_FROM)] = None,
    project_name: Annotated[str | None, option(flags.PROJECT_NAME)] = None,
    detach: Annotated[bool, option(flags.DETACH)] = False,
    wait: Annotated[bool, option(flags.WAIT)] = False,
    log_dir: Annotated[Path | None, option(flags.LOG_DIR)] = None,
    log_lines: Annotated[int, option(flags.LOG_LINES)] = 1000,
    tui: Annotated[bool, option(flags.TUI)] = False,
    watch: Annotated[bool, option(flags.WATCH)] = False,
    no_watch: Annotated[bool, option(flags.NO_WATCH)] = False,
) -> None:
    """Start the services in dependency order and show their output until they end.

    Ctrl-C (or SIGTERM/SIGHUP) stops them in reverse dependency order; a second Ctrl-C kills
    at once. Exit code: the failing service's, 128+N when stopped by signal N, else 0.
    """
    where = with_globals(ctx, file, env, app_root)
    request = UpRequest(
        services=tuple(services or ()), file=where.file, env=where.env,
        app_root=where.app_root, profiles=tuple(profiles or ()), namespace=namespace,
        formation=joined(formation), port=port,
        timeout=timeout, no_prefix=no_prefix, no_timestamps=no_timestamps, no_color=no_color,
        output=output, max_line=max_line, raw=raw, quiet=joined(quiet), abort_on_exit=abort_on_exit,
        exit_code_from=exit_code_from, project_name=project_name, detach=detach, wait=wait,
        log_dir=os.fspath(log_dir) if log_dir else None, log_lines=log_lines, tui=tui,
        watch=watch, no_watch=no_watch, tty=tuple(tty or ()))
    raise typer.Exit(up_command(request))


def run(
    ctx: typer.Context,
    command: Annotated[list[str] | None, typer.Argument(
        help="The command and its arguments (after `--` if they start with '-').")] = None,
    with_services: Annotated[list[str] | None, option(flags.WITH)] = None,
    no_deps: Annotated[bool, option(flags.NO_DEPS)] = False,
    quiet_services: Annotated[bool, option(flags.QUIET_SERVICES)] = False,
    file: FileOption = None,
    env: EnvOption = None,
    app_root: AppRootOption = None,
    timeout: TimeoutOption = None,
    no_prefix: NoPrefixOption = False,
    no_timestamps: NoTimestampsOption = False,
    no_color: NoColorOption = False,
    output: OutputOption = "text",
    max_line: MaxLineOption = DEFAULT_MAX_LINE,
    raw: RawOption = False,
    tty: TtyOption = None,
    project_name: Annotated[str | None, option(flags.PROJECT_NAME)] = None,
) -> None:
    """Run a command with the project's environment (and, with --with, its services).

    Exit code: the command's (128+N when it is killed by signal N).
    """
    if command:
        _refuse_unknown_option(ctx, command[0])
    where = with_globals(ctx, file, env, app_root)
    request = RunRequest(
        command=tuple(command or ()), with_services=joined(with_services), no_deps=no_deps,
        quiet_services=quiet_services, file=where.file, env=where.env,
        app_root=where.app_root, timeout=timeout, no_prefix=no_prefix,
        no_timestamps=no_timestamps, no_color=no_color, output=output, max_line=max_line,
        raw=raw, project_name=project_name, tty=tuple(tty or ()))
    raise typer.Exit(run_command(request))


def _refuse_unknown_option(ctx: typer.Context, first: str) -> None:
    """An option `run` does not know ends up as the command's first word (options are not
    interspersed with the command's own). Only after `--` may the command start with '-':
    `run --with db --quiet -- pytest` must not start db and then run `--quiet`."""
    if not first.startswith("-") or first == "-":
        return
    argv = sys.argv
    separator = argv.index("--") if "--" in argv else len(argv)
    if first in argv[separator + 1:]:
        return
    known = [name for param in ctx.command.params for name in getattr(param, "opts", [])
             if name.startswith("--")]
    name = first.split("=", 1)[0]
    hint = [k for k in known if k.startswith(name)] or difflib.get_close_matches(name, known, n=1)
    suffix = f" (did you mean {hint[0]}?)" if hint else ""
    raise UsageError(f"run: no such option {first}{suffix}; a command that starts with '-' "
                     "goes after `--`")
