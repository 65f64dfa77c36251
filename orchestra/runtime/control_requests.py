"""`orchestra stop|start|restart` (and the file watcher's restarts) on a running stack.

Each request reaches its runners as events (`StopRequested(on_request=True)`,
`StartRequested`) through `ServiceRunner.handle`, as Ctrl-C's stop does; what is decided here
is only which runners, in which order, and whether the stack may start anything now.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from orchestra.plan import stop_waves
from orchestra.runtime import events as ev

if TYPE_CHECKING:
    from orchestra.runtime.orchestrator import Orchestrator
    from orchestra.runtime.service import ServiceRunner


class StoppingError(RuntimeError):
    """A start or restart asked for while the stack stops."""


async def stop_instances(orchestrator: Orchestrator, names: list[str]) -> list[str]:
    """`orchestra stop`: these instances stop as at shutdown; the others go on. Refused
    while the whole stack stops (it would change how its runners' ends are judged)."""
    _refuse_while_stopping(orchestrator)
    await _stop_in_waves_on_request(orchestrator, names)
    return names


async def start_instances(orchestrator: Orchestrator, names: list[str]) -> list[str]:
    """`orchestra start`: the instances that have ended run again (waiting for their
    dependencies and readiness as at start-up); running ones are left alone."""
    _refuse_while_stopping(orchestrator)
    started = []
    for name in names:
        runner = orchestrator.runners[name]
        if runner.final:
            _rerun(orchestrator, runner)
            started.append(name)
    return started


async def restart_instances(orchestrator: Orchestrator, names: list[str]) -> list[str]:
    """`orchestra restart`: stop these instances (if running), then run them again."""
    _refuse_while_stopping(orchestrator)
    runners = [orchestrator.runners[name] for name in names]
    orchestrator.restarting.update(runners)   # their ends are no ends of the stack
    try:
        await _stop_in_waves_on_request(orchestrator, names)
    finally:
        orchestrator.restarting.difference_update(runners)
    if orchestrator.stopping:   # while they stopped: they stay stopped, and the run may be over
        orchestrator.maybe_all_final()
    _refuse_while_stopping(orchestrator)
    for runner in runners:
        if runner.final:   # another restart that awaited the same stop may have run it
            _rerun(orchestrator, runner)
    return names


async def _stop_in_waves_on_request(orchestrator: Orchestrator, names: list[str]) -> None:
    """Stop these instances as shutdown does: in waves, each after its dependents among
    them (`web` before `db` when both are asked for)."""
    chosen = [orchestrator.runners[name] for name in names]
    plan = orchestrator.plan
    services = [n for n in plan.order
                if any(r.instance.service.name == n and not r.final for r in chosen)]
    for wave in stop_waves(plan, services):
        await asyncio.gather(*(_stop_on_request(r) for r in chosen
                               if r.instance.service.name in wave and not r.final))


async def _stop_on_request(runner: ServiceRunner) -> None:
    """End this runner as shutdown would, without stopping anything else; no failure."""
    runner.handle(ev.StopRequested(on_request=True))
    await runner.until_done()


def _refuse_while_stopping(orchestrator: Orchestrator) -> None:
    if orchestrator.stopping:
        raise StoppingError("orchestra is stopping; nothing starts now")


def _rerun(orchestrator: Orchestrator, runner: ServiceRunner) -> None:
    if orchestrator.finished:   # the run is over: nothing may start after it
        raise StoppingError("orchestra has finished; nothing starts now")
    runner.handle(ev.StartRequested())
    orchestrator.start_task(runner)
