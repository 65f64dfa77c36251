"""The command line: parameters and presentation only (DESIGN §4).

Library code raises `OrchestraError`s; `main()` is the one place that turns them into a message
on stderr and an exit code (0 ok, 1 runtime failure, 2 usage or config error). Heavy modules
(the runtime, the multiplexer) are imported inside the commands that need them, so that
`orchestra check` and `orchestra --help` stay quick.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from orchestra import __version__
from orchestra.config.loader import LoadOptions, load_spec
from orchestra.errors import ConfigError, OrchestraError, UsageError

app = typer.Typer(
    name="orchestra",
    help="Start a project's processes in dependency order, with prefixed, lossless output.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

FileOption = Annotated[Path | None, typer.Option(
    "-f", "--file", "--procfile", envvar="ORCHESTRA_FILE",
    help="Config file: orchestra.yaml/.yml, or a Procfile. Default: orchestra.yaml, "
         "orchestra.yml, else Procfile in the current directory.")]
EnvOption = Annotated[str | None, typer.Option(
    "-e", "--env-file", "--env",
    help="Comma-separated .env files (later ones win), replacing the default .env beside "
         "the config file.")]
AppRootOption = Annotated[Path | None, typer.Option(
    "-d", "--app-root", help="Directory services run in; relative paths resolve there.")]


def load_options(file: Path | None, env: str | None, app_root: Path | None) -> LoadOptions:
    env_files = None
    if env is not None:
        env_files = tuple(Path(p.strip()) for p in env.split(",") if p.strip())
    return LoadOptions(file=file, env_files=env_files,
                       app_root=app_root.resolve() if app_root else None)


@app.command()
def check(file: FileOption = None, env: EnvOption = None,
          app_root: AppRootOption = None) -> None:
    """Validate the config and report every problem (exit 2), or summarise it (exit 0)."""
    spec = load_spec(load_options(file, env, app_root))
    names = ", ".join(spec.names())
    if spec.kind.value == "procfile":
        typer.echo(f"Valid procfile detected ({names})", err=True)
    count = len(spec.services)
    typer.echo(f"valid: {count} service{'s' if count != 1 else ''} ({names})")


@app.command()
def config(
    file: FileOption = None,
    env: EnvOption = None,
    app_root: AppRootOption = None,
    output_format: Annotated[str, typer.Option(
        "--format", help="Output format: yaml or json.")] = "yaml",
    show_env: Annotated[bool, typer.Option(
        "--show-env", help="Show values that came from env files instead of masking them.")]
        = False,
) -> None:
    """Print the resolved model: argv, working directory, environment, dependencies."""
    from orchestra.config.render import render_spec

    if output_format not in ("yaml", "json"):
        raise UsageError(f"invalid --format '{output_format}' (expected yaml or json)")
    spec = load_spec(load_options(file, env, app_root))
    sys.stdout.write(render_spec(spec, output_format, show_env=show_env))


@app.command()
def version() -> None:
    """Print orchestra's version."""
    typer.echo(f"orchestra {__version__}")


@app.command(name="up")
def up(
    services: Annotated[list[str] | None, typer.Argument(
        help="Services to start (plus their dependencies). Default: all enabled.")] = None,
    file: FileOption = None,
    env: EnvOption = None,
    app_root: AppRootOption = None,
    namespace: Annotated[str | None, typer.Option(
        "--namespace", "-n", help="Start the services of this namespace (plus dependencies).")]
        = None,
    formation: Annotated[str | None, typer.Option(
        "-c", "--concurrency", "-m", "--formation",
        help="Instances per service, e.g. web=2,worker=0,all=1.")] = None,
    port: Annotated[int | None, typer.Option(
        "-p", "--port", help="Base port: PORT = base + 100 × service index + instance − 1.")]
        = None,
    timeout: Annotated[float | None, typer.Option(
        "-t", "--timeout", help="Seconds between the stop signal and SIGKILL (overrides "
                                "every service's stop_timeout).")] = None,
    no_prefix: Annotated[bool, typer.Option("--no-prefix", help="Print bare lines.")] = False,
    no_timestamps: Annotated[bool, typer.Option(
        "--no-timestamps", help="Leave out the HH:MM:SS column.")] = False,
    no_color: Annotated[bool, typer.Option(
        "--no-color", "--no-colour", help="Never colour the prefix.")] = False,
    quiet: Annotated[str | None, typer.Option(
        "-q", "--quiet", help="Comma-separated services whose output is hidden.")] = None,
    output: Annotated[str, typer.Option(
        "--output", help="text, or json: one JSON object per line and per lifecycle event.")]
        = "text",
    max_line: Annotated[int, typer.Option(
        "--max-line", help="Longest line in bytes; longer lines are cut into marked pieces.")]
        = 4 * 1024 * 1024,
    abort_on_exit: Annotated[bool, typer.Option(
        "--abort-on-exit", help="Stop everything when any service ends.")] = False,
    exit_code_from: Annotated[str | None, typer.Option(
        "--exit-code-from", help="Stop everything when SERVICE ends; exit with its code.")]
        = None,
) -> None:
    """Start the services in dependency order and show their output until they end.

    Ctrl-C (or SIGTERM/SIGHUP) stops them in reverse dependency order; a second Ctrl-C kills
    at once. Exit code: the failing service's, 128+N when stopped by signal N, else 0.
    """
    from orchestra.output.options import OutputOptions, color_wanted
    from orchestra.plan import Selection, make_plan, parse_formation
    from orchestra.runtime.orchestrator import RunSettings
    from orchestra.runtime.run import run_plan

    if output not in ("text", "json"):
        raise UsageError(f"invalid --output '{output}' (expected text or json)")
    if max_line < 80:
        raise UsageError(f"--max-line {max_line} is too small (at least 80 bytes)")
    if timeout is not None and timeout < 0:
        raise UsageError(f"--timeout {timeout:g} must be >= 0")
    options = load_options(file, env, app_root)
    spec = load_spec(options)
    selection = Selection(services=tuple(services or ()), namespace=namespace,
                          formation=parse_formation(formation) if formation else {},
                          base_port=port)
    plan = make_plan(spec, selection, options.environ)
    for name in filter(None, [exit_code_from]):
        if name not in spec.names():
            raise UsageError(f"--exit-code-from: unknown service '{name}'")
    quiet_names = frozenset(q.strip() for q in (quiet or "").split(",") if q.strip())
    out = OutputOptions(
        prefix=not no_prefix, timestamps=not no_timestamps,
        color=color_wanted(sys.stdout.isatty(), os.environ, no_color),
        json=output == "json", quiet=_expand_quiet(quiet_names, plan), max_line=max_line)
    settings = RunSettings(stop_timeout=timeout, abort_on_exit=abort_on_exit,
                           exit_code_from=exit_code_from)
    raise typer.Exit(run_plan(plan, out, settings, options.environ))


def _expand_quiet(names: frozenset[str], plan: object) -> frozenset[str]:
    """`-q web` hides web.1 and web.2 too."""
    from orchestra.plan import Plan

    assert isinstance(plan, Plan)
    expanded = set(names)
    for instance in plan.instances:
        if instance.service.name in names:
            expanded.add(instance.name)
    return frozenset(expanded)


app.command(name="start", help="Alias of `up` (honcho and foreman spell it so).")(up)


def main() -> None:
    """Console entry point: the only place errors become exit codes."""
    try:
        app(standalone_mode=True)
    except OrchestraError as exc:
        _report(exc)
        sys.exit(exc.exit_code)


def _report(exc: OrchestraError) -> None:
    if isinstance(exc, ConfigError):
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        count = len(exc.problems)
        if count > 1:
            print(f"{count} problems; nothing was started", file=sys.stderr)
    else:
        print(f"error: {exc}", file=sys.stderr)
