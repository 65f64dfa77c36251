"""The typer application and the one place where errors become exit codes.

Library code raises `OrchestraError`s; `main()` turns them into a message on stderr and an exit
code (0 ok, 1 runtime failure, 2 usage or config error), never a traceback. Heavy modules (the
runtime, the multiplexer, jsonschema) are imported inside the commands that need them.
"""

from __future__ import annotations

import sys

import typer

from orchestra.cli import export, inspect, run, up
from orchestra.cli.options import AppRootOption, EnvOption, FileOption, GlobalOptions
from orchestra.errors import ConfigError, OrchestraError

app = typer.Typer(
    name="orchestra",
    help="Start a project's processes in dependency order, with prefixed, lossless output.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def root(ctx: typer.Context, file: FileOption = None, env: EnvOption = None,
         app_root: AppRootOption = None) -> None:
    """Global options; each command accepts them too."""
    ctx.obj = GlobalOptions(file, env, app_root)


app.command(name="up")(up.up)
app.command(name="start", help="Alias of `up` (honcho and foreman spell it so).")(up.up)
app.command(name="run", context_settings={"allow_interspersed_args": False,
                                          "ignore_unknown_options": True})(run.run)
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


def report(exc: OrchestraError) -> None:
    if isinstance(exc, ConfigError):
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        count = len(exc.problems)
        if count > 1:
            print(f"{count} problems; nothing was started", file=sys.stderr)
    else:
        print(f"error: {exc}", file=sys.stderr)
