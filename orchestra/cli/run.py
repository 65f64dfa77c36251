"""`orchestra run`: one command with the project's environment, optionally once services are up.

Without `--with` it is honcho's and foreman's `run`: CMD runs attached to the terminal with
the `.env` and project environment, and orchestra exits with its code. A CMD that names a
service runs that service's command (foreman). With `--with db,api` those services (and their
dependencies) start first, CMD runs once all are ready, with `DB_PORT`-style variables, then
the services stop and orchestra exits with CMD's code.
"""

from __future__ import annotations

import asyncio
import difflib
import os
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

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
    RawOption,
    TimeoutOption,
    check_timeout,
    load_options,
    output_options,
    split_names,
)
from orchestra.config.envfiles import merge_env_files
from orchestra.config.inputs import recording
from orchestra.config.loader import LoadOptions, config_exists, load_spec, project_env_files
from orchestra.config.model import DEFAULT_STOP_TIMEOUT, Spec
from orchestra.errors import ConfigError, UsageError
from orchestra.plan import Selection, make_plan
from orchestra.runtime.foreground import ForegroundRun
from orchestra.runtime.lifeline import Lifeline
from orchestra.runtime.settings import ForegroundCommand


def run(
    ctx: typer.Context,
    command: Annotated[list[str] | None, typer.Argument(
        help="The command and its arguments (after `--` if they start with '-').")] = None,
    with_services: Annotated[str | None, typer.Option(
        "--with", help="Start these services (comma-separated) and wait until they are ready "
                       "before running the command. Their lines go to stderr; the "
                       "command's stdout stays its own.")] = None,
    no_deps: Annotated[bool, typer.Option(
        "--no-deps", help="With --with: do not start the services' dependencies.")] = False,
    quiet_services: Annotated[bool, typer.Option(
        "--quiet-services", help="Hide service output; show each service's last 50 lines "
                                 "if the command fails or a service dies.")] = False,
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
) -> None:
    """Run a command with the project's environment (and, with --with, its services).

    Exit code: the command's (128+N when it is killed by signal N).
    """
    check_timeout(timeout)
    if not command:
        raise UsageError("run needs a command, e.g. `orchestra run --with db -- pytest`")
    _refuse_unknown_option(ctx, command[0])
    options = load_options(ctx, file, env, app_root)
    names = split_names(with_services)
    if with_services is not None and not names:
        raise UsageError("--with needs at least one service name, e.g. --with db,api")
    if not names and not config_exists(options):
        # honcho's and foreman's `run` need no Procfile: the .env and the environment will do
        raise typer.Exit(_run_alone(_without_config(command, options), timeout))
    with recording() as inputs:
        spec = load_spec(options)
    foreground = _foreground(spec, command, options)
    if not names:
        raise typer.Exit(_run_alone(foreground, timeout))
    raise typer.Exit(_run_with(spec, names, foreground, options, inputs, no_deps=no_deps,
                               quiet_services=quiet_services, timeout=timeout,
                               out_flags=dict(no_prefix=no_prefix, no_timestamps=no_timestamps,
                                              no_color=no_color, output=output,
                                              max_line=max_line, raw=raw)))


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


def _without_config(command: list[str], options: LoadOptions) -> ForegroundCommand:
    folder = options.app_root or options.cwd
    env_files, problems = project_env_files(options, folder)
    if problems:
        raise ConfigError(problems)
    return ForegroundCommand(tuple(command), folder, {
        **options.environ, **merge_env_files(env_files), "PWD": str(folder.absolute())})


def _foreground(spec: Spec, command: list[str], options: LoadOptions) -> ForegroundCommand:
    base_env = {**options.environ, **spec.env}
    if len(command) == 1 and command[0] in spec.names():
        plan = make_plan(spec, Selection(services=(command[0],), with_dependencies=False),
                         options.environ)
        instance = plan.instances[0]
        return ForegroundCommand(instance.service.argv, instance.service.run_dir,
                                 {**options.environ, **instance.env})
    cwd = (options.app_root or Path.cwd()).absolute()
    return ForegroundCommand(tuple(command), cwd, {**base_env, "PWD": str(cwd)})


def _run_alone(foreground: ForegroundCommand, timeout: float | None) -> int:
    async def main() -> int:
        loop = asyncio.get_running_loop()
        lifeline = Lifeline()
        lifeline.start()
        command = ForegroundRun(foreground, DEFAULT_STOP_TIMEOUT if timeout is None else timeout,
                                lifeline)
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(signum, command.on_signal, signum)
        try:
            return await command.run({})
        finally:
            lifeline.close()

    return asyncio.run(main())


def _run_with(spec: Spec, names: list[str], foreground: ForegroundCommand,
              options: LoadOptions, inputs: list[Path], *, no_deps: bool,
              quiet_services: bool, timeout: float | None,
              out_flags: dict[str, object]) -> int:
    from orchestra import compiled
    from orchestra.runtime.settings import RunSettings

    plan = make_plan(spec, Selection(services=tuple(names), with_dependencies=not no_deps),
                     options.environ)
    quiet = frozenset(i.name for i in plan.instances) if quiet_services else frozenset()
    out = output_options(quiet=quiet, **out_flags)  # type: ignore[arg-type]
    settings = RunSettings(stop_timeout=timeout, foreground=foreground,
                           show_tails=quiet_services,
                           github=os.environ.get("GITHUB_ACTIONS") == "true")
    no_color = bool(out_flags["no_color"])
    return compiled.run(compiled.Invocation(plan, out, no_color, settings), inputs)
