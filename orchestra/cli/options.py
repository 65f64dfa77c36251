"""Options shared by several commands, and the global ones honcho users type first.

`-f`, `-e` and `-d` work before the subcommand (`orchestra -e .env.test run ...`, as honcho
accepts) and after it; the value given after the subcommand wins.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from orchestra.config.loader import LoadOptions
from orchestra.errors import OrchestraError, UsageError
from orchestra.output.options import OutputOptions, color_wanted

FileOption = Annotated[Path | None, typer.Option(
    "-f", "--file", "--procfile", envvar="ORCHESTRA_FILE", show_envvar=True,
    help="Config file: orchestra.yaml/.yml, or a Procfile. Default: orchestra.yaml, "
         "orchestra.yml, else Procfile ($PROCFILE names another) in the current directory.")]
EnvOption = Annotated[str | None, typer.Option(
    "-e", "--env-file", "--env",
    help="Comma-separated .env files (later ones win), replacing the default .env beside "
         "the config file.")]
AppRootOption = Annotated[Path | None, typer.Option(
    "-d", "--app-root", "--root",
    help="Directory services run in (foreman's --root); relative -f and -e paths, the default "
         "Procfile/orchestra.yaml and .env are found there.")]
PortOption = Annotated[int | None, typer.Option(
    "-p", "--port", help="Base port: PORT = base + 100 × service index + instance − 1 "
                         "(default for a Procfile: $PORT, else 5000).")]
TimeoutOption = Annotated[float | None, typer.Option(
    "-t", "--timeout", help="Seconds between the stop signal and SIGKILL (overrides every "
                            "service's stop_timeout).")]
NoPrefixOption = Annotated[bool, typer.Option("--no-prefix", help="Print bare lines.")]
NoTimestampsOption = Annotated[bool, typer.Option(
    "--no-timestamps", help="Leave out the HH:MM:SS column.")]
NoColorOption = Annotated[bool, typer.Option(
    "--no-color", "--no-colour", help="Never colour the prefix (also: NO_COLOR=1).")]
OutputOption = Annotated[str, typer.Option(
    "--output", help="text, or json: one JSON object per line and per lifecycle event.")]
MaxLineOption = Annotated[int, typer.Option(
    "--max-line", help="Longest line in bytes; longer lines are cut into pieces marked '+'.")]
RawOption = Annotated[bool, typer.Option(
    "--raw", help="On a terminal, pass the services' control characters and escape sequences "
                  "through (by default they are shown as ^M, ^[ so that no service can move "
                  "the cursor over other lines; colours are kept either way).")]
DEFAULT_MAX_LINE = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class GlobalOptions:
    file: Path | None = None
    env: str | None = None
    app_root: Path | None = None


def load_options(ctx: typer.Context, file: Path | None, env: str | None,
                 app_root: Path | None) -> LoadOptions:
    """Merge the command's -f/-e/-d with the global ones (the command's win)."""
    root = ctx.find_root().obj
    if isinstance(root, GlobalOptions):
        file = file or root.file
        env = env if env is not None else root.env
        app_root = app_root or root.app_root
    env_files = None
    if env is not None:
        env_files = tuple(Path(p.strip()) for p in env.split(",") if p.strip())
    cwd = current_directory()
    return LoadOptions(file=file, env_files=env_files, cwd=cwd,
                       app_root=cwd / app_root if app_root else None)


def current_directory() -> Path:
    """The working directory; one clear line, not a traceback, when it was deleted."""
    try:
        return Path.cwd()
    except FileNotFoundError:
        raise OrchestraError("the current directory no longer exists (was it deleted?); "
                             "cd to an existing one") from None


def unknown_name(option: str, name: str, known: Sequence[str]) -> UsageError:
    """The error for a service name an option does not know, with a did-you-mean."""
    import difflib  # only for the message

    hint = difflib.get_close_matches(name, known, n=1)
    return UsageError(f"{option}: unknown service '{name}'"
                      + (f" (did you mean '{hint[0]}'?)" if hint else ""))


def split_names(text: str | None) -> list[str]:
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def output_options(*, no_prefix: bool, no_timestamps: bool, no_color: bool, output: str,
                   max_line: int, quiet: frozenset[str], raw: bool = False) -> OutputOptions:
    """Validate the presentation flags and decide colour from the terminal and environment."""
    if output not in ("text", "json"):
        raise UsageError(f"invalid --output '{output}' (expected text or json)")
    if max_line < 80:
        raise UsageError(f"--max-line {max_line} is too small (at least 80 bytes)")
    return OutputOptions(
        prefix=not no_prefix, timestamps=not no_timestamps,
        color=color_wanted(sys.stdout.isatty(), os.environ, no_color),
        json=output == "json", quiet=quiet, max_line=max_line,
        terminal=sys.stdout.isatty(), raw=raw)


def check_timeout(timeout: float | None) -> None:
    if timeout is not None and not (math.isfinite(timeout) and timeout >= 0):
        raise UsageError(f"--timeout {timeout:g} must be a number of seconds >= 0")


def check_port(port: int | None) -> None:
    if port is not None and not 1 <= port <= 65535:
        raise UsageError(f"--port {port} is out of range 1-65535")
