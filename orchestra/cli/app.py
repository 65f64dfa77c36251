"""The typer application: every command, its help and its usage errors.

`up`, `start` and `run` usually never get here (`cli/quick.py` reads them); this is where they
arrive with `--help` or a command line the quick parser leaves to typer. Library code raises
`OrchestraError`s; `main()` reports them through `cli/report.py`, never with a traceback.
Heavy modules (the runtime, jsonschema) are imported inside the commands that need them.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from orchestra.cli import attach, commands, control, export, inspect, tui
from orchestra.cli.options import AppRootOption, EnvOption, FileOption, GlobalOptions
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
    ctx.obj = GlobalOptions(tuple(file or ()), env, app_root)


app.command(name="up")(commands.up)
app.command(name="start", help="Alias of `up` (honcho and foreman spell it so).")(commands.up)
app.command(name="run", context_settings={"allow_interspersed_args": False,
                                          "ignore_unknown_options": True})(commands.run)
app.command(name="ps")(control.ps)
app.command(name="logs")(control.logs)
app.command(name="restart")(control.restart)
app.command(name="stop")(control.stop)
app.command(name="down")(control.down)
app.command(name="attach")(attach.attach_command)
app.command(name="tui")(tui.tui)
app.command(name="check")(inspect.check)
app.command(name="config")(inspect.config)
app.command(name="graph")(inspect.graph)
app.command(name="version")(inspect.version)
app.command(name="export")(export.export)


def main() -> None:
    """Console entry point."""
    try:
        app(standalone_mode=True)
    except OrchestraError as exc:
        report(exc)
        sys.exit(exc.exit_code)
