"""`orchestra run`: one command with the project's environment, optionally once services are up.

Without `--with` it is honcho's and foreman's `run`: CMD runs attached to the terminal with
the `.env` and project environment, and orchestra exits with its code. A CMD that names a
service runs that service's command (foreman). With `--with db,api` those services (and their
dependencies) start first, CMD runs once all are ready, with `DB_PORT`-style variables, then
the services stop and orchestra exits with CMD's code.
"""

from __future__ import annotations

import os
import sys
from typing import NamedTuple

from orchestra.cli.flags import DEFAULT_MAX_LINE
from orchestra.cli.values import (
    check_timeout,
    load_options,
    output_options,
    split_names,
    with_terminals,
)
from orchestra.config.envfiles import merge_env_files
from orchestra.config.loader import LoadOptions, config_exists, load_spec, project_env_files
from orchestra.config.model import DEFAULT_STOP_TIMEOUT, Spec
from orchestra.errors import ConfigError, UsageError
from orchestra.plan import Selection, make_plan
from orchestra.runtime.settings import ForegroundCommand


class RunRequest(NamedTuple):
    """The command line of `run`, as typed (see `cli/flags.py` for each option).

    A NamedTuple, not a frozen dataclass, as `UpRequest` (cli/up.py), whose first fields
    these are too."""

    # the options `up` and `run` share (`cli/values.py` reads them): where the project
    # is, and how output looks
    file: tuple[str, ...] = ()           # -f, repeatable: layered configs
    env: str | None = None
    app_root: str | None = None
    timeout: float | None = None
    no_prefix: bool = False
    no_timestamps: bool = False
    no_color: bool = False
    output: str = "text"
    max_line: int = DEFAULT_MAX_LINE
    raw: bool = False
    project_name: str | None = None
    tty: tuple[str, ...] = ()            # --tty, repeatable: services given a terminal
    # `run`'s own
    command: tuple[str, ...] = ()
    with_services: str | None = None
    no_deps: bool = False
    quiet_services: bool = False


def run(request: RunRequest) -> int:
    """Run the command (once the `--with` services are ready); the command's exit code."""
    check_timeout(request.timeout)
    command = list(request.command)
    if not command:
        raise UsageError("run needs a command, e.g. `orchestra run --with db -- pytest`")
    options = load_options(request.file, request.env, request.app_root)
    names = split_names(request.with_services)
    if request.with_services is not None and not names:
        raise UsageError("--with needs at least one service name, e.g. --with db,api")
    if request.tty and not names:
        raise UsageError("--tty names services started --with the command (the command "
                         "itself already runs on orchestra's terminal)")
    for given, flag in ((request.no_deps, "--no-deps"),
                        (request.quiet_services, "--quiet-services")):
        if given and request.with_services is None:
            raise UsageError(f"{flag} goes with --with (e.g. `orchestra run --with db "
                             f"{flag} -- pytest`); without --with no service starts")
    if not names and not config_exists(options):
        # honcho's and foreman's `run` need no Procfile: the .env and the environment will do
        return _run_alone(_without_config(command, options), request)
    spec = with_terminals(load_spec(options), request.tty)
    foreground = _foreground(spec, command, options)
    if not names:
        return _run_alone(foreground, request)
    return _run_with(spec, names, foreground, options, request)


def _without_config(command: list[str], options: LoadOptions) -> ForegroundCommand:
    folder = options.app_root or options.cwd
    env_files, problems = project_env_files(options, folder)
    if problems:
        raise ConfigError(problems)
    return ForegroundCommand(tuple(command), folder, {
        **options.environ, **merge_env_files(env_files), "PWD": folder})


def _foreground(spec: Spec, command: list[str], options: LoadOptions) -> ForegroundCommand:
    base_env = {**options.environ, **spec.env}
    if len(command) == 1 and command[0] in spec.names():
        plan = make_plan(spec, Selection(services=(command[0],), with_dependencies=False),
                         options.environ)
        instance = plan.instances[0]
        return ForegroundCommand(instance.service.argv, instance.service.run_dir,
                                 {**options.environ, **instance.env})
    cwd = options.app_root or options.cwd   # absolute, both
    return ForegroundCommand(tuple(command), cwd, {**base_env, "PWD": cwd})


def _run_alone(foreground: ForegroundCommand, request: RunRequest) -> int:
    """honcho's and foreman's `run`: the command alone. orchestra's own word about it (it
    could not be started) is a `system` line on stderr, through a multiplexer like every line
    orchestra prints, so `--output json` stays JSON."""
    import signal

    from orchestra.runtime.tls import import_asyncio

    import_asyncio(None)   # no service, no https check: asyncio without TLS
    import asyncio

    from orchestra.output.mux import Multiplexer
    from orchestra.runtime.backends import select_backend
    from orchestra.runtime.foreground import ForegroundRun
    from orchestra.runtime.lifeline import Lifeline
    from orchestra.startup import resume_collector

    select_backend(os.environ)   # a bad ORCHESTRA_PROCESS_BACKEND: exit 2, nothing started
    resume_collector()
    timeout = request.timeout
    out = output_options(request, quiet=frozenset(), stream=sys.stderr)
    mux = Multiplexer(sys.stderr.fileno(), ["system"], out)

    def report(text: str) -> None:
        mux.system(text, event="command-error")
        mux.flush()

    async def main() -> int:
        loop = asyncio.get_running_loop()
        lifeline = Lifeline()
        lifeline.start()
        command = ForegroundRun(foreground, DEFAULT_STOP_TIMEOUT if timeout is None else timeout,
                                lifeline, report=report)
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(signum, command.on_signal, signum)
        try:
            return await command.run({})
        finally:
            lifeline.close()

    return asyncio.run(main())


def _run_with(spec: Spec, names: list[str], foreground: ForegroundCommand,
              options: LoadOptions, request: RunRequest) -> int:
    from orchestra.runtime.tls import import_asyncio

    plan = make_plan(spec, Selection(services=tuple(names),
                                     with_dependencies=not request.no_deps), options.environ)
    import_asyncio(plan)   # before the runtime: with TLS only if a check needs it
    from orchestra.runtime.loop import run_plan
    from orchestra.runtime.settings import RunSettings

    quiet = (frozenset(i.name for i in plan.instances) if request.quiet_services
             else frozenset())
    # the service lines go to stderr: the command's stdout is its own
    out = output_options(request, quiet=quiet, stream=sys.stderr)
    settings = RunSettings(stop_timeout=request.timeout, foreground=foreground,
                           show_tails=request.quiet_services,
                           github=os.environ.get("GITHUB_ACTIONS") == "true",
                           project_name=request.project_name)
    return run_plan(plan, out, settings, dict(os.environ))
