"""`orchestra up` (alias `start`): run the services until they end or are stopped."""

from __future__ import annotations

import os
from dataclasses import replace
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
    PortOption,
    RawOption,
    TimeoutOption,
    check_port,
    check_timeout,
    load_options,
    output_options,
    split_names,
    unknown_name,
)
from orchestra.config.inputs import recording
from orchestra.config.loader import load_spec
from orchestra.errors import UsageError
from orchestra.plan import Plan, Selection, make_plan, parse_formation

FormationOption = Annotated[str | None, typer.Option(
    "-c", "--concurrency", "-m", "--formation",
    help="Instances per service, e.g. web=2,worker=0,all=1.")]



def up(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(
        help="Services to start (plus their dependencies). Default: all enabled.")] = None,
    file: FileOption = None,
    env: EnvOption = None,
    app_root: AppRootOption = None,
    namespace: Annotated[str | None, typer.Option(
        "--namespace", "-n", help="Start the services of this namespace (plus dependencies).")]
        = None,
    formation: FormationOption = None,
    port: PortOption = None,
    timeout: TimeoutOption = None,
    no_prefix: NoPrefixOption = False,
    no_timestamps: NoTimestampsOption = False,
    no_color: NoColorOption = False,
    quiet: Annotated[str | None, typer.Option(
        "-q", "--quiet", help="Comma-separated services whose output is hidden.")] = None,
    output: OutputOption = "text",
    max_line: MaxLineOption = DEFAULT_MAX_LINE,
    raw: RawOption = False,
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
    from orchestra import compiled
    from orchestra.runtime.settings import RunSettings

    check_timeout(timeout)
    check_port(port)
    options = replace(load_options(ctx, file, env, app_root), base_port=port)
    with recording() as inputs:
        spec = load_spec(options)
    if exit_code_from is not None and exit_code_from not in spec.names():
        raise unknown_name("--exit-code-from", exit_code_from, spec.names())
    selection = Selection(services=tuple(services or ()), namespace=namespace,
                          formation=parse_formation(formation) if formation else {},
                          base_port=port)
    plan = make_plan(spec, selection, options.environ)
    if exit_code_from is not None and not any(i.service.name == exit_code_from
                                              for i in plan.instances):
        # it would never end, so neither would orchestra
        raise UsageError(f"--exit-code-from: '{exit_code_from}' is not among the services "
                         "this run starts (not selected, disabled, or 0 instances)")
    out = output_options(no_prefix=no_prefix, no_timestamps=no_timestamps, no_color=no_color,
                         output=output, max_line=max_line, raw=raw,
                         quiet=instance_names(plan, split_names(quiet)))
    settings = RunSettings(stop_timeout=timeout, abort_on_exit=abort_on_exit,
                           exit_code_from=exit_code_from,
                           github=os.environ.get("GITHUB_ACTIONS") == "true")
    invocation = compiled.Invocation(plan, out, no_color, settings)
    raise typer.Exit(compiled.run(invocation, inputs))


def instance_names(plan: Plan, names: list[str]) -> frozenset[str]:
    """`-q web` hides web.1 and web.2 too. A name that is neither a service nor an instance
    is a usage error: a typo would otherwise leave the noisy service shown, without a word."""
    known = [*plan.spec.names(), *(i.name for i in plan.instances)]
    for name in names:
        if name not in known:
            raise unknown_name("-q/--quiet", name, known)
    wanted = set(names)
    return frozenset(i.name for i in plan.instances
                     if i.name in wanted or i.service.name in wanted) | wanted
