"""Set up the process state and the event loop for `orchestra up`, and run a plan in it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import stat
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TextIO

from orchestra.output.lines import Run
from orchestra.output.mux import Multiplexer
from orchestra.output.options import OutputOptions
from orchestra.plan import Plan
from orchestra.runtime.backends import select_backend
from orchestra.runtime.control_socket import ControlSocket
from orchestra.runtime.logbook import Logbook
from orchestra.runtime.orchestrator import Orchestrator
from orchestra.runtime.settings import RunSettings
from orchestra.runtime.spawn import prepare_parent
from orchestra.startup import resume_collector

if TYPE_CHECKING:
    from orchestra.runtime.logfiles import LogFiles

#: File descriptors per instance: stdout pipe, stderr pipe, pidfd (pidfd backend), plus headroom
#: for probes.
FDS_PER_INSTANCE = 4


def _raise_fd_limit(instances: int) -> None:
    """Hundreds of services need more fds than the usual soft limit of 1024. The soft limit is
    read with `os.sysconf`, so `resource` (a shared library to load) is imported only when it
    must be raised."""
    wanted = instances * FDS_PER_INSTANCE + 64
    soft = os.sysconf("SC_OPEN_MAX")   # RLIMIT_NOFILE's soft limit; -1: unlimited
    if soft < 0 or soft >= wanted:
        return
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))


def run_plan(plan: Plan, output: OutputOptions, settings: RunSettings,
             environ: Mapping[str, str]) -> int:
    """Run every instance of the plan until they end or are stopped; the exit code."""
    select_backend(environ)   # a bad ORCHESTRA_PROCESS_BACKEND fails before anything starts
    prepare_parent()
    _raise_fd_limit(len(plan.instances))
    control = _claim_control_socket(plan, settings, environ)   # before anything starts
    return asyncio.run(_main(plan, output, settings, environ, control))


def run_detached(plan: Plan, output: OutputOptions, settings: RunSettings,
                 environ: Mapping[str, str], *, wait: bool, log_dir: str | None) -> int:
    """`up --detach`: the socket is claimed here (a running project is refused in the
    foreground), the stack runs in a daemon; returns once it is up, or failed."""
    from pathlib import Path  # a detached run's folders: not on the way of a foreground one

    from orchestra.control.paths import project_name
    from orchestra.runtime.detach import Detached, prepare_log_dir, start_detached, state_folder

    select_backend(environ)
    resume_collector()   # before the fork: the daemon shares what start-up made
    control = _claim_control_socket(plan, settings, environ)
    project = project_name(os.path.dirname(plan.spec.path), settings.project_name)
    folder = Path(log_dir) if log_dir else state_folder(project, dict(environ))
    prepare_log_dir(folder)

    def run_stack(status_fd: int) -> int:
        from orchestra.config.ports import hand_over_ports, release_ports

        hand_over_ports()
        try:
            prepare_parent()
            _raise_fd_limit(len(plan.instances))
            detached = settings._replace(detached=Detached(status_fd, wait, folder))
            return asyncio.run(_main(plan, output._replace(color=False, terminal=False),
                                     detached, environ, control))
        finally:
            release_ports()   # the daemon ends with os._exit, which runs no atexit

    def stop_stack() -> None:
        if isinstance(control, str):
            return
        from orchestra.control import client

        with contextlib.suppress(client.NotRunning, client.ControlError, OSError):
            client.request(control[1], {"command": "down"}, timeout=None)

    keep = () if isinstance(control, str) else (control[2].fileno(),)
    return start_detached(run_stack, stop_stack, keep)


def _claim_control_socket(plan: Plan, settings: RunSettings, environ: Mapping[str, str],
                          ) -> tuple[str, str, socket.socket] | str:
    """(project, socket path, listening socket); or why there is no control socket.

    A project that is running already is an error (AlreadyRunning), before anything starts.
    """
    from orchestra.control.claim import claim
    from orchestra.control.paths import project_name, socket_path

    project = project_name(os.path.dirname(plan.spec.path), settings.project_name)
    try:
        path = socket_path(project, environ)
        return project, path, claim(path)
    except OSError as exc:
        return f"no control socket ({exc}); ps, logs and down cannot reach this run"


async def _main(plan: Plan, output: OutputOptions, settings: RunSettings,
                environ: Mapping[str, str],
                control: tuple[str, str, socket.socket] | str) -> int:
    loop = asyncio.get_running_loop()
    orchestrator: Orchestrator | None = None

    def broken() -> None:
        if orchestrator is not None:
            orchestrator.on_output_broken()

    sys.stdout.flush()
    sys.stderr.flush()
    names = ["system", *(i.name for i in plan.instances)]
    logbook = Logbook((i.name for i in plan.instances), max_lines=settings.log_lines)
    record: Callable[[str, str, list[Run]], None] = logbook.record
    files: LogFiles | None = None
    if settings.detached is None:
        out_fd = output_stream(settings).fileno()
    else:   # the combined output and a file per instance, in the log folder
        from orchestra.runtime.logfiles import LogFiles, forget_earlier_runs

        folder = settings.detached.log_dir
        forget_earlier_runs(folder, plan.spec.names())
        # orchestra's own lines may quote configuration values that came from the
        # environment or a .env file (a check's command, an URL): never written to disk
        out_fd = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
        files = LogFiles(folder, (i.name for i in plan.instances), loop,
                         on_pressure=lambda over: mux.hold_readers(over, "log files"))

        def both(name: str, stream: str, runs: list[Run]) -> None:
            logbook.record(name, stream, runs)
            files.record(name, stream, runs)
        record = both
    mux = Multiplexer(out_fd, names, output, on_broken=broken, record=record, loop=loop)
    orchestrator = Orchestrator(plan, mux, settings, environ)
    _notice_reader_gone(loop, mux, out_fd)
    resume_collector()   # paused since the launch (orchestra/startup.py)
    try:
        if isinstance(control, str):
            mux.system(control, event="control-unavailable")
            code = await _run_stack(orchestrator, plan, settings)
        else:
            project, path, listener = control
            served = ControlSocket(project, path, listener, orchestrator, logbook)
            try:
                code = await _run_stack(orchestrator, plan, settings)
            finally:
                await served.close()
    finally:
        if files is not None:
            files.close()   # every line queued is written before the stack ends
    if mux.write_error is not None:   # a closed reader needs no words; a full disk does
        with contextlib.suppress(OSError):
            print(f"error: cannot write output: {mux.write_error}", file=sys.stderr, flush=True)
    return code


async def _run_stack(orchestrator: Orchestrator, plan: Plan, settings: RunSettings) -> int:
    """The run, with its files watched for the services that ask for it (`watch:`); a stack
    without `watch` imports nothing for it."""
    if not settings.watch or all(i.service.watch is None for i in plan.instances):
        return await orchestrator.run()
    from orchestra.runtime.watch import FileWatcher

    async with FileWatcher(orchestrator, plan):
        return await orchestrator.run()


def output_stream(settings: RunSettings) -> TextIO:
    """Where service and system lines go: stdout, but stderr for `run --with`, whose command's
    stdout must stay its own (`run --with db -- pg_dump > dump.sql`), as `docker compose run`
    keeps its own messages on stderr."""
    return sys.stderr if settings.foreground is not None else sys.stdout


def _notice_reader_gone(loop: asyncio.AbstractEventLoop, mux: Multiplexer, fd: int) -> None:
    """`orchestra up | head -3` must end when head does, even if the services print nothing
    more: the kernel flags the write end of a pipe whose reader closed (EPOLLERR, which the
    loop reports as readable), so that is watched rather than waiting for a write to fail."""
    try:
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return
    except OSError:
        return

    def gone() -> None:
        loop.remove_reader(fd)
        mux.reader_gone()

    loop.add_reader(fd, gone)
