"""`orchestra ps`, `logs` and `down`: ask the stack that `orchestra up` runs for this project.

The project is found as `up` finds it (`-f`, `-d`, the config in the current folder) or named
with `--project-name`; no config is loaded. With no stack running, each says so in one line
and exits 1.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from orchestra.cli import flags
from orchestra.cli.options import (
    AppRootOption,
    FileOption,
    LongFileOption,
    option,
    with_globals,
)
from orchestra.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from orchestra.output.options import OutputOptions

ProjectOption = Annotated[str | None, option(flags.PROJECT_NAME)]
Services = Annotated[list[str] | None, typer.Argument(
    help="Services or instances (web, web.1, 'web.*'). Default: all.")]


def _socket(ctx: typer.Context, file: list[Path] | None, app_root: Path | None,
            project: str | None) -> str:
    from orchestra.control.client import socket_of

    return socket_of(_project(ctx, file, app_root, project))


def _project(ctx: typer.Context, file: list[Path] | None, app_root: Path | None,
             project: str | None) -> str:
    from orchestra.cli.values import load_options
    from orchestra.config.project import discover
    from orchestra.control.paths import project_name

    if project is not None:
        return project_name(".", project)
    where = with_globals(ctx, file, None, app_root)
    options = load_options(where.file, None, where.app_root)
    try:
        folder = os.path.dirname(discover(options))
    except ConfigError:
        # the config is gone (a checkout, a rename) but its stack may still run: the
        # project is named after the folder the config was found in, this one
        folder = options.app_root or options.cwd
    return project_name(folder)


def ps(ctx: typer.Context, file: FileOption = None, app_root: AppRootOption = None,
       project_name: ProjectOption = None,
       output_format: Annotated[str, typer.Option(
           "--format", help="table, or json (the same state names as `up --output json`).")]
       = "table") -> None:
    """Every instance of the running stack: state, pid, uptime, restarts, readiness, exit
    code, port, and the CPU time and memory of its process group."""
    from orchestra.control import client
    from orchestra.control.usage import UNKNOWN, usage_of_groups

    if output_format not in ("table", "json"):
        raise UsageError(f"invalid --format '{output_format}' (expected table or json)")
    rows = client.request(_socket(ctx, file, app_root, project_name), {"command": "ps"})
    assert isinstance(rows, list)
    usage = usage_of_groups(row.get("pid") for row in rows)
    for row in rows:
        row.update(usage.get(row.get("pid"), UNKNOWN).as_dict())
    if output_format == "json":
        sys.stdout.write(json.dumps(rows, indent=1) + "\n")
        return
    sys.stdout.write(_table(rows))


def _table(rows: list[dict[str, object]]) -> str:
    header = ("NAME", "STATE", "PID", "UPTIME", "RESTARTS", "EXIT", "PORT", "CPU", "RSS",
              "READINESS")
    lines = [header]
    for row in rows:
        uptime = row.get("uptime")
        rss = row.get("rss_bytes")
        lines.append((
            str(row["name"]), str(row["state"]), _text(row.get("pid")),
            f"{uptime:.0f}s" if isinstance(uptime, float | int) else "-",
            _text(row.get("restarts")), _text(row.get("exit_code")), _text(row.get("port")),
            f"{row['cpu_s']}s" if row.get("cpu_s") is not None else "-",
            f"{rss / 1048576:.1f}M" if isinstance(rss, int) else "-",
            ("ready: " if row.get("ready") else "") + str(row.get("reason") or "")))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    return "".join(" ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=False))
                   + " " + line[-1] + "\n" for line in lines)


def _text(value: object) -> str:
    return "-" if value is None else str(value)


def logs(ctx: typer.Context, services: Services = None, file: LongFileOption = None,
         app_root: AppRootOption = None, project_name: ProjectOption = None,
         follow: Annotated[bool, typer.Option(
             "-f", "--follow", help="Keep printing new lines until Ctrl-C or the stack ends.")]
         = False,
         tail: Annotated[int | None, typer.Option(
             "--tail", "-n", help="Only the last N lines of each instance.")] = None,
         log_dir: Annotated[Path | None, typer.Option(
             "--log-dir", help="Where `up --detach --log-dir` put the log files, read once "
             "that stack has ended (default: orchestra/PROJECT in $XDG_STATE_HOME, else in "
             "~/.local/state).")] = None,
         no_prefix: Annotated[bool, option(flags.NO_PREFIX)] = False,
         no_timestamps: Annotated[bool, option(flags.NO_TIMESTAMPS)] = False,
         no_color: Annotated[bool, option(flags.NO_COLOR)] = False,
         raw: Annotated[bool, option(flags.RAW)] = False) -> None:
    """The recent output of these services (kept in memory by the stack), in order.

    Once a detached stack (`up --detach`) has ended, the lines of its log files, instance
    by instance, without timestamps (the files have none)."""
    import os

    from orchestra.control import client
    from orchestra.output.options import OutputOptions, color_wanted

    if tail is not None and tail < 0:
        raise UsageError(f"--tail {tail} must be a number of lines >= 0")
    project = _project(ctx, file, app_root, project_name)
    message = {"command": "logs", "services": services or [], "tail": tail}
    color = color_wanted(sys.stdout.isatty(), os.environ, no_color)
    options = OutputOptions(prefix=not no_prefix, timestamps=not no_timestamps, color=color)
    try:
        path = client.socket_of(project)
        if follow:
            _print(client.follow(path, message), [], options, raw, flush=True)
            return
        first = client.request(path, message)
    except client.NotRunning:
        _print_saved(project, log_dir, services or [], tail,
                     OutputOptions(prefix=not no_prefix, timestamps=False, color=color), raw)
        return
    known = first if isinstance(first, list) else []
    _print(iter(known), known, options, raw, flush=False)


def _print(lines: Iterator[dict[str, object]], known: list[dict[str, object]],
           options: OutputOptions, raw: bool, *, flush: bool) -> None:
    """Each line as `up` shows it: prefixed, and on a terminal not obeyed (`--raw` aside)."""
    from orchestra.output.style import Prefixes
    from orchestra.output.terminal import needs_neutralising, neutralise

    prefixes = Prefixes(options, [str(line["service"]) for line in known])
    shown = sys.stdout.isatty() and not raw
    out = sys.stdout.buffer
    try:
        for line in lines:
            name = str(line["service"])
            prefixes.add_names([name])
            when = line.get("ts")
            prefix = prefixes.get(name, when if isinstance(when, float) else time.time(),
                                  bool(line.get("continued")))
            text = str(line["text"]).encode("utf-8", "replace")
            if shown and needs_neutralising(text, text.isascii()):
                text = neutralise(text)   # as `up` shows them: no service moves the cursor
            out.write(prefix + text + b"\n")
            if flush:
                out.flush()
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    finally:
        out.flush()


def _print_saved(project: str, log_dir: Path | None, patterns: list[str], tail: int | None,
                 options: OutputOptions, raw: bool) -> None:
    """No stack answers: the log files of the last detached one, if it left any (else the
    usual "no running stack"). Which files are read is said on stderr."""
    from orchestra.cli import saved_logs
    from orchestra.control.client import NotRunning

    folder = saved_logs.log_folder(project, log_dir)
    names = saved_logs.instances(folder)
    if not names:
        where = f"; no log files in {log_dir}" if log_dir is not None else ""
        raise NotRunning(f"no running stack for this project (start it with `orchestra up`)"
                         f"{where}")
    chosen = saved_logs.select(names, patterns, folder)
    typer.echo(f"no running stack for this project; the log files of the last detached one, "
               f"in {folder}:", err=True)
    lines: Iterator[dict[str, object]] = ({"service": name, "text": text}
             for name in chosen for text in saved_logs.lines(folder, name, tail))
    _print(lines, [{"service": name} for name in chosen], options, raw, flush=False)


def restart(ctx: typer.Context, services: Services = None, file: FileOption = None,
            app_root: AppRootOption = None, project_name: ProjectOption = None) -> None:
    """Stop these services (all by default) and start them again, a stopped one too: stop
    signal and timeout as at shutdown, then dependencies and readiness as at start-up. The
    other services go on."""
    _act(ctx, "restart", services, file, app_root, project_name, "restarted")


def stop(ctx: typer.Context, services: Services = None, file: FileOption = None,
         app_root: AppRootOption = None, project_name: ProjectOption = None) -> None:
    """Stop these services (all by default) as at shutdown; the others go on, and the stack
    stays up for `orchestra restart`. Stopping a service is not a failure of the run."""
    _act(ctx, "stop", services, file, app_root, project_name, "stopped")


def _act(ctx: typer.Context, command: str, services: list[str] | None,
         file: list[Path] | None, app_root: Path | None, project: str | None,
         done: str) -> None:
    from orchestra.control import client

    path = _socket(ctx, file, app_root, project)
    names = client.request(path, {"command": command, "services": services or []},
                           timeout=None)
    if isinstance(names, list) and names:
        typer.echo(f"{done}: {', '.join(str(n) for n in names)}", err=True)


def down(ctx: typer.Context, file: FileOption = None, app_root: AppRootOption = None,
         project_name: ProjectOption = None,
         timeout: Annotated[float | None, option(flags.TIMEOUT)] = None) -> None:
    """Stop the running stack as Ctrl-C would, and return once it is gone."""
    from orchestra.cli.values import check_timeout
    from orchestra.control import client

    check_timeout(timeout)
    path = _socket(ctx, file, app_root, project_name)
    info = client.request(path, {"command": "info"})
    client.request(path, {"command": "down", "timeout": timeout}, timeout=None)  # until gone
    pid = info.get("pid") if isinstance(info, dict) else "?"
    typer.echo(f"stopped (orchestra pid {pid})", err=True)
