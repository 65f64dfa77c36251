"""What the stack reports to whoever waits for it: `run --with`'s command (run once every
service is ready), `up --detach`'s waiting command (told once every service has started or,
with `--wait`, is ready), and a failing service's last lines (quiet runs, GitHub Actions)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from orchestra.config.model import Condition
from orchestra.output import github
from orchestra.runtime.states import State
from orchestra.runtime.tasks import end_tasks

if TYPE_CHECKING:
    from orchestra.runtime.detach import Detached
    from orchestra.runtime.orchestrator import Orchestrator
    from orchestra.runtime.service import ServiceRunner
    from orchestra.runtime.settings import ForegroundCommand


async def run_foreground(orchestrator: Orchestrator, command: ForegroundCommand) -> None:
    """`run --with`: once every service is ready, run the command; its code is the run's."""
    import shlex  # here, as the rest: only `run --with` needs them

    from orchestra.discovery import discovery_env
    from orchestra.runtime.foreground import ForegroundRun

    mux, settings = orchestrator.mux, orchestrator.settings
    reason = await why_not_ready(orchestrator)
    if reason is not None:
        if not orchestrator.stopping:   # a service ended without becoming ready
            orchestrator.codes.record("failure", 1)
            orchestrator.stop(reason)
        mux.system(f"not running the command: {reason}", event="command-skipped",
                   reason=reason)
        if settings.github:
            mux.raw(github.error("orchestra: command not run",
                                 f"not running the command: {reason}"))
        return
    foreground = orchestrator.foreground = ForegroundRun(
        command, orchestrator.stop_timeout(None), orchestrator.lifeline,
        report=lambda text: mux.system(text, event="command-error"))
    mux.system("all services ready; running " + shlex.join(command.argv), event="command-start")
    await mux.written()   # before the command writes to the same terminal
    code = await foreground.run(discovery_env(orchestrator.plan.instances))
    mux.system(f"command exited rc={code}", event="command-exit", rc=code)
    if code != 0 and orchestrator.tails is not None and settings.show_tails:
        orchestrator.tails.show(orchestrator.runners)
    orchestrator.codes.record("command", code)
    orchestrator.stop("the command finished")


async def report_when_up(orchestrator: Orchestrator, detached: Detached) -> None:
    """`up --detach`: tell the waiting command once every service has started (with
    `--wait`: is ready); if that cannot happen, say why and stop."""
    from orchestra.runtime.detach import report

    condition = Condition.READY if detached.wait else Condition.STARTED
    reason = await why_not_ready(orchestrator, condition)
    if reason is None:
        report(detached, True, f"{_how_they_are(orchestrator, detached.wait)}; logs in "
                               f"{detached.log_dir}")
        return
    if not orchestrator.stopping:
        orchestrator.codes.record("failure", 1)
        orchestrator.stop(reason)
    report(detached, False, f"{reason} (its output: {detached.log_dir})")


def _how_they_are(orchestrator: Orchestrator, wait: bool) -> str:
    """`4 instance(s) ready`, or `3 instance(s) ready, 1 completed`: a one-shot that has
    exited 0 is done, not ready (or started), and is said so."""
    runners = orchestrator.runners.values()
    completed = sum(1 for r in runners if r.final and r.state is State.EXITED
                    and r.exit_status is not None and r.exit_status.code == 0)
    up = len(runners) - completed
    what = f"{up} instance(s) {'ready' if wait else 'started'}"
    if not completed:
        return what
    return f"{what}, {completed} completed" if up else f"{completed} instance(s) completed"


async def why_not_ready(orchestrator: Orchestrator,
                        condition: Condition = Condition.READY) -> str | None:
    """Wait until every service is ready for the command (or, with STARTED, has started);
    None then, else why it never will be.

    Ready: its readiness check passed (a one-shot may then have completed with 0), or,
    with no check, it started (a one-shot: it completed with 0). A service with a check
    that ended before ever passing it will never be ready, whatever its exit code.
    """
    while True:
        unready = []
        for runner in orchestrator.runners.values():
            if runner.satisfies(condition) or (
                    runner.instance.service.readiness is None
                    and runner.satisfies(Condition.COMPLETED_SUCCESSFULLY)):
                continue
            if runner.final:
                # why it ended, in its own words ("not ready: ... gave up"), else how
                ended = runner.failure or (runner.exit_status.describe()
                                           if runner.exit_status else runner.state.value)
                word = "ready" if condition is Condition.READY else "started"
                return f"{runner.name} ended ({ended}) before it was {word}"
            unready.append(runner)
        if orchestrator.stopping:
            return "orchestra is stopping"
        if not unready:
            return None
        waiting = [asyncio.ensure_future(runner.changed()) for runner in unready]
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await end_tasks(waiting)


def report_failure(orchestrator: Orchestrator, runner: ServiceRunner) -> None:
    """Show a failing service's last lines where they help: CI logs, quiet runs."""
    tails, mux, settings = orchestrator.tails, orchestrator.mux, orchestrator.settings
    if tails is None:
        return
    if settings.github:
        mux.raw(github.error(f"orchestra: {runner.name} failed",
                             f"{runner.name}: {runner.failure or 'failed'}"))
        lines = tails.lines(runner.name)
        if lines:
            mux.raw(github.group(f"{runner.name}: last lines"))
            mux.replay(runner.name, lines)
            mux.raw(github.END_GROUP)
    elif settings.show_tails and runner.state is not State.SKIPPED:
        tails.show([runner.name])
