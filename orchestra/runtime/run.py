"""Set up the process state and the event loop for `orchestra up`, and run a plan in it."""

from __future__ import annotations

import asyncio
import os
import resource
import stat
import sys
from collections.abc import Mapping
from typing import TextIO

from orchestra.output.mux import Multiplexer
from orchestra.output.options import OutputOptions
from orchestra.plan import Plan
from orchestra.runtime.orchestrator import Orchestrator
from orchestra.runtime.settings import RunSettings
from orchestra.runtime.spawn import prepare_parent

#: File descriptors per instance: stdout pipe, stderr pipe, pidfd, plus headroom for probes.
FDS_PER_INSTANCE = 4


def _raise_fd_limit(instances: int) -> None:
    """Hundreds of services need more fds than the usual soft limit of 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = instances * FDS_PER_INSTANCE + 64
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))


def run_plan(plan: Plan, output: OutputOptions, settings: RunSettings,
             environ: Mapping[str, str]) -> int:
    """Run every instance of the plan until they end or are stopped; the exit code."""
    prepare_parent()
    _raise_fd_limit(len(plan.instances))
    return asyncio.run(_main(plan, output, settings, environ))


async def _main(plan: Plan, output: OutputOptions, settings: RunSettings,
                environ: Mapping[str, str]) -> int:
    loop = asyncio.get_running_loop()
    orchestrator: Orchestrator | None = None

    def broken() -> None:
        if orchestrator is not None:
            orchestrator.on_output_broken()

    sys.stdout.flush()
    sys.stderr.flush()
    names = ["system", *(i.name for i in plan.instances)]
    mux = Multiplexer(output_stream(settings).fileno(), names, output, on_broken=broken,
                      loop=loop)
    orchestrator = Orchestrator(plan, mux, settings, environ)
    _notice_reader_gone(loop, mux, output_stream(settings).fileno())
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
