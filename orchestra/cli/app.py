"""The typer application: every command, its help and its usage errors.

`up`, `start` and `run` usually never get here (`cli/quick.py` reads them); this is where they
arrive with `--help` or a command line the quick parser leaves to typer. Library code raises
`OrchestraError`s; `main()` reports them through `cli/report.py`, never with a traceback.
Heavy modules (the runtime, jsonschema) are imported inside the commands that need them.
"""

from __future__ import annotations

import inspect as _inspect
import os
import sys
from collections.abc import Callable
from typing import Annotated

import typer

from orchestra.cli import attach, commands, control, export, inspect, tui
from orchestra.cli.options import AppRootOption, EnvOption, FileOption, GlobalOptions, joined
from orchestra.cli.report import report
from orchestra.errors import OrchestraError

app = typer.Typer(
    name="orchestra",
    help="Start a project's processes in dependency order, with prefixed, lossless output.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(wanted: bool) -> None:
    if wanted:
        inspect.version()
        raise typer.Exit(0)


@app.callback()
def root(ctx: typer.Context, file: FileOption = None, env: EnvOption = None,
         app_root: AppRootOption = None,
         version: Annotated[bool, typer.Option(
             "--version", is_eager=True, callback=_print_version,
             help="Print orchestra's version and exit (as `orchestra version`).")] = False,
         ) -> None:
    """Global options; each command accepts them too."""
    ctx.obj = GlobalOptions(tuple(os.fspath(path) for path in file or ()), joined(env),
                            os.fspath(app_root) if app_root else None)


def _help(command: Callable[..., object]) -> str:
    """A command's docstring as its help, each paragraph on one line.

    rich keeps the line breaks of a docstring and then wraps each line again to the
    terminal's width, so a sentence broken at column 90 in the source came out broken twice
    in an 80-column terminal (`orchestra --help`, `orchestra up --help`). One line per
    paragraph lets it wrap once, where the terminal ends."""
    text = _inspect.cleandoc(command.__doc__ or "")
    return "\n\n".join(" ".join(paragraph.split()) for paragraph in text.split("\n\n"))


app.command(name="up", help=_help(commands.up))(commands.up)
app.command(name="start", help="Alias of `up` (honcho and foreman spell it so).")(commands.up)
app.command(name="run", help=_help(commands.run),
            context_settings={"allow_interspersed_args": False,
                              "ignore_unknown_options": True})(commands.run)
for _name, _command in (("ps", control.ps), ("logs", control.logs),
                        ("restart", control.restart), ("stop", control.stop),
                        ("down", control.down), ("attach", attach.attach_command),
                        ("tui", tui.tui), ("check", inspect.check),
                        ("config", inspect.config), ("graph", inspect.graph),
                        ("version", inspect.version), ("export", export.export)):
    app.command(name=_name, help=_help(_command))(_command)


def main() -> None:
    """Console entry point.

    click's own handling (standalone mode) would show a misused flag as a boxed block under
    the command's usage; orchestra says every bad input in one line, as it does for a config
    (`error: ...`, exit 2), and points at the help."""
    try:
        code = app(standalone_mode=False)
    except OrchestraError as exc:
        report(exc)
        sys.exit(exc.exit_code)
    except typer.TyperException as exc:   # click's errors: a misused flag, a bad value
        context = getattr(exc, "ctx", None)
        where = f" (see `{context.command_path} --help`)" if context is not None else ""
        print(f"error: {' '.join(exc.format_message().split())}{where}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except typer.Abort:   # Ctrl-C or end of input in one of click's prompts
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
