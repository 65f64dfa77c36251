"""`orchestra up` (alias `start`): run the services until they end or are stopped.

Typer-free: reached from `cli/quick.py` (the usual way) and from the typer signature in
`cli/commands.py` alike.
"""

# Annotations are evaluated here, not kept as strings: see orchestra/records.py.

import os
import sys
from typing import NamedTuple

from orchestra.cli.flags import DEFAULT_MAX_LINE
from orchestra.cli.values import (
    active_profiles,
    check_port,
    check_timeout,
    load_options,
    output_options,
    split_names,
    unknown_name,
    with_terminals,
)
from orchestra.config.loader import load_spec
from orchestra.errors import UsageError
from orchestra.pathnames import join
from orchestra.plan import Plan, Selection, make_plan, parse_formation
from orchestra.runtime.tls import import_asyncio


class UpRequest(NamedTuple):
    """The command line of `up`, as typed (see `cli/flags.py` for each option).

    A NamedTuple, not a frozen dataclass: it is made once, by the command line, on the way
    to every run's first line, where a dataclass costs ~1.5 ms to create (see
    runtime/events.py). Its first fields are those of `RunRequest` too (a NamedTuple has no
    base class of fields)."""

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
    # `up`'s own
    services: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    namespace: str | None = None
    formation: str | None = None
    port: int | None = None
    quiet: str | None = None
    abort_on_exit: bool = False
    exit_code_from: str | None = None
    detach: bool = False
    wait: bool = False
    log_dir: str | None = None
    log_lines: int = 1000
    tui: bool = False
    watch: bool = False
    no_watch: bool = False


def up(request: UpRequest) -> int:
    """Start the services in dependency order and show their output; the exit code."""
    if request.log_lines < 1:
        raise UsageError(f"--log-lines {request.log_lines} must be a number of lines >= 1")
    if (request.wait or request.log_dir) and not (request.detach or request.tui):
        raise UsageError("--wait and --log-dir go with --detach (-D)")
    if request.exit_code_from is not None and (request.detach or request.tui):
        # the stack runs on in the background: its exit code would reach nobody
        raise UsageError("--exit-code-from needs an attached `up` (a detached stack's exit "
                         "code reaches nobody); for CI, `orchestra run --with SERVICES -- "
                         "CMD` exits with CMD's code")
    _refuse_ignored_when_detached(request)
    if request.tui:
        from orchestra.tui.view import require_terminal, require_textual

        require_textual()   # before anything starts
        require_terminal()
    check_timeout(request.timeout)
    check_port(request.port)
    options = load_options(request.file, request.env, request.app_root)._replace(
        base_port=request.port)
    spec = with_terminals(load_spec(options), request.tty)
    exit_code_from = request.exit_code_from
    if exit_code_from is not None and exit_code_from not in spec.names():
        raise unknown_name("--exit-code-from", exit_code_from, spec.names())
    selection = Selection(services=request.services, namespace=request.namespace,
                          formation=parse_formation(request.formation)
                          if request.formation else {},
                          base_port=request.port,
                          profiles=active_profiles(request.profiles, os.environ))
    plan = make_plan(spec, selection, options.environ)
    if not plan.instances and selection.formation:
        raise UsageError("nothing to start: -c/--formation gives every service 0 instances")
    if exit_code_from is not None and not any(i.service.name == exit_code_from
                                              for i in plan.instances):
        # it would never end, so neither would orchestra
        raise UsageError(f"--exit-code-from: '{exit_code_from}' is not among the services "
                         "this run starts (not selected, disabled, or 0 instances)")
    watch = _watching(plan, request)
    import_asyncio(plan)   # before the runtime: with TLS only if a check needs it
    from orchestra.runtime.loop import run_detached, run_plan
    from orchestra.runtime.settings import RunSettings

    out = output_options(request, quiet=instance_names(plan, split_names(request.quiet)),
                         stream=sys.stdout)
    settings = RunSettings(stop_timeout=request.timeout, abort_on_exit=request.abort_on_exit,
                           exit_code_from=exit_code_from,
                           github=os.environ.get("GITHUB_ACTIONS") == "true",
                           project_name=request.project_name, watch=watch,
                           log_lines=request.log_lines)
    if request.detach or request.tui:
        log_dir = join(os.getcwd(), request.log_dir) if request.log_dir else None
        code = run_detached(plan, out, settings, dict(os.environ), wait=request.wait,
                            log_dir=log_dir)
        return _view(plan, request) if code == 0 and request.tui else code
    return run_plan(plan, out, settings, dict(os.environ))


def _refuse_ignored_when_detached(request: UpRequest) -> None:
    """A detached stack writes each instance's lines, bare, to a log file of its own and
    prints one status line: `--output json` and `-q` would change nothing there, and a flag
    that silently does nothing is refused (as `docker compose up -d` refuses
    `--abort-on-container-exit`). `--no-color` is honoured: nothing detached is coloured.

    `--no-prefix`, `--no-timestamps` and `--raw` choose how lines are shown; the files
    already hold them bare, unstamped and as printed. As with docker compose, whose log
    store keeps what the container wrote and `docker compose logs --no-log-prefix -t`
    chooses the presentation, they belong to the reader: `orchestra logs` takes all three."""
    if not (request.detach or request.tui):
        return
    how = "--detach" if request.detach else "--tui"
    for flag, given in (("--no-prefix", request.no_prefix),
                        ("--no-timestamps", request.no_timestamps), ("--raw", request.raw)):
        if given:
            raise UsageError(f"{flag} does nothing with {how}: each service's log file holds "
                             f"its lines bare, as printed; `orchestra logs {flag}` shows them so")
    if request.output == "json":
        raise UsageError(f"--output json does nothing with {how}: a detached stack writes "
                         "each service's lines to a log file of its own (`orchestra logs`)")
    if request.quiet:
        raise UsageError(f"-q/--quiet does nothing with {how}: every service's lines go to "
                         "its own log file (`orchestra logs SERVICE` shows one)")


def _watching(plan: Plan, request: UpRequest) -> bool:
    """Whether the run acts on `watch:`: yes, unless --no-watch. --watch asks for it
    explicitly, so a run in which no service has `watch:` is told rather than ignored."""
    if request.watch and request.no_watch:
        raise UsageError("--watch and --no-watch contradict each other; give one")
    if request.watch and all(i.service.watch is None for i in plan.instances):
        raise UsageError("--watch: no service of this run has a `watch:` setting "
                         "(see docs/CONFIG.md, watch)")
    return not request.no_watch


def _view(plan: Plan, request: UpRequest) -> int:
    """`up --tui`: the view on the stack just started in the background; it runs on."""
    from orchestra.control.client import socket_of
    from orchestra.control.paths import project_name
    from orchestra.tui.view import after_view, open_view

    stopped = open_view(socket_of(project_name(os.path.dirname(plan.spec.path),
                                               request.project_name)))
    print(after_view(stopped, request.file, request.app_root, request.project_name),
          file=sys.stderr)
    return 0


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
