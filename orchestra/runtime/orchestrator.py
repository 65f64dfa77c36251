"""The event loop's owner: starts every instance in dependency order, decides when to stop,
stops in reverse dependency order, and reports the exit code (`runtime/exit_codes.py` holds
its precedence rules).

Around it, each in its own module: the runners (`runtime/service.py`, the shell of the state
machine in `runtime/machine.py`), control requests (`runtime/control_requests.py`), what the
stack reports to `run --with` and `up --detach` (`runtime/stack_reports.py`), and the notify
sockets' folder (`runtime/notify_dir.py`). Ctrl-C's stop and a second Ctrl-C's kill reach the
runners as events, as every other request does.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Mapping
from typing import TYPE_CHECKING

from orchestra.config.model import DEFAULT_STOP_TIMEOUT
from orchestra.output.mux import Multiplexer
from orchestra.plan import Instance, Plan, stop_waves
from orchestra.runtime import events as ev
from orchestra.runtime.exit_codes import ExitCodes
from orchestra.runtime.lifeline import Lifeline
from orchestra.runtime.notify_dir import NotifyFolder
from orchestra.runtime.run_context import RunContext
from orchestra.runtime.service import ServiceRunner
from orchestra.runtime.settings import RunSettings
from orchestra.runtime.states import State

if TYPE_CHECKING:  # imported where used: most runs need neither
    from orchestra.runtime.foreground import ForegroundRun
    from orchestra.runtime.tails import Tails

__all__ = ["Orchestrator", "RunSettings"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Orchestrator:
    def __init__(self, plan: Plan, mux: Multiplexer, settings: RunSettings,
                 environ: Mapping[str, str]) -> None:
        self.plan = plan
        self.mux = mux
        self.settings = settings
        self.environ = environ
        self.runners: dict[str, ServiceRunner] = {}
        self._by_service: dict[str, list[ServiceRunner]] = {}   # service name → its instances
        self.codes = ExitCodes()
        self.stopping = False
        self.restarting: set[ServiceRunner] = set()   # `orchestra restart`: they run again
        self._tasks: list[asyncio.Task[None]] = []   # every runner's runs, restarts too
        self._signals = 0
        self._all_final = asyncio.Event()
        self._shutdown: asyncio.Task[None] | None = None
        self.lifeline = Lifeline()
        self._notify_folder = NotifyFolder(environ, self.lifeline)
        self.tails: Tails | None = None
        self.foreground: ForegroundRun | None = None
        self._down_timeout: float | None = None   # `orchestra down -t`
        if settings.show_tails or settings.github:
            from orchestra.runtime.tails import Tails

            self.tails = Tails(mux, [i.name for i in plan.instances])

    def stop_timeout(self, instance: Instance | None) -> float:
        if self._down_timeout is not None:
            return self._down_timeout
        if self.settings.stop_timeout is not None:
            return self.settings.stop_timeout
        if instance is not None and instance.service.stop_timeout is not None:
            return instance.service.stop_timeout
        return DEFAULT_STOP_TIMEOUT

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        self.lifeline.start()
        context = RunContext(self.mux, self.lifeline, self.environ, self.stop_timeout,
                             self._on_final, self._notify_folder.socket_path)
        for instance in self.plan.instances:
            runner = self.runners[instance.name] = ServiceRunner(instance, context)
            self._by_service.setdefault(instance.service.name, []).append(runner)
        self._wire_dependencies()
        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, self._on_signal, signum)
        try:
            for runner in self.runners.values():
                self.start_task(runner)
            tasks = self._tasks
            if self.settings.foreground is not None or self.settings.detached is not None:
                from orchestra.runtime import stack_reports  # `run` and `up --detach` only
            if self.settings.foreground is not None:
                tasks.append(asyncio.create_task(
                    stack_reports.run_foreground(self, self.settings.foreground)))
            if self.settings.detached is not None:
                tasks.append(asyncio.create_task(
                    stack_reports.report_when_up(self, self.settings.detached)))
            if not self.runners:
                self._all_final.set()
            await self._all_final.wait()
            if self._shutdown is not None:
                await self._shutdown
            await asyncio.gather(*tasks)   # the list grows with restarts; none after the end
        finally:
            for signum in STOP_SIGNALS:
                loop.remove_signal_handler(signum)
            self._notify_folder.remove()
            self.lifeline.close()
            self.mux.close()
        return self.exit_code

    @property
    def exit_code(self) -> int:
        return self.codes.code

    @property
    def finished(self) -> bool:
        """The run is over: nothing may start after it."""
        return self._all_final.is_set()

    def start_task(self, runner: ServiceRunner) -> None:
        self._tasks.append(asyncio.create_task(runner.run(), name=runner.name))

    def _wire_dependencies(self) -> None:
        for runner in self.runners.values():
            runner.dependencies = tuple(
                (dep.condition, self._runners_of(dep.service))
                for dep in runner.instance.service.depends_on)

    # ------------------------------------------------------------------ decisions

    def _on_final(self, runner: ServiceRunner) -> None:
        if runner in self.restarting:   # `orchestra restart`: it runs again at once
            return
        facts = runner.facts
        status = facts.exit_status
        if facts.stopped_on_request:   # `orchestra stop`: no failure, nothing else stops...
            if self._is_exit_code_service(runner):
                # ...unless it is the service whose code `up` exits with: as docker compose
                # does, its stop ends the run with the code it ended with (143 for SIGTERM);
                # stopped before it ran, it never will, and the run fails as for a skip (1)
                if status is not None and facts.has_started:
                    self.codes.record("exit-code-from", status.code)
                    self.stop(f"{runner.name} stopped (--exit-code-from)")
                else:
                    self.codes.record("exit-code-from", 1)
                    self.stop(f"{runner.name} stopped before it ran (--exit-code-from)")
            self.maybe_all_final()
            return
        if facts.state is State.FAILED and not self.stopping:
            self._report_failure(runner)
        if facts.state is State.FAILED and status is not None and not facts.restart_forgone:
            self.codes.record("failure", status.code)   # FAILED: it ended on its own
        if status is not None and facts.has_started and self._is_exit_code_service(runner):
            # the first instance to end decides; the others are then stopped by orchestra
            self.codes.record("exit-code-from", status.code)
            self.stop(f"{runner.name} ended (--exit-code-from)")
        elif facts.state is State.FAILED and not self.stopping:
            self.stop(f"{runner.name} failed")
        elif facts.state is State.SKIPPED and not self.stopping:
            # its dependency ended without meeting the condition: the stack cannot come up
            self._report_failure(runner)
            self.codes.record("failure", 1)
            self.stop(f"{runner.name} skipped")
        elif self.settings.abort_on_exit and status is not None and not self.stopping:
            self.stop(f"{runner.name} ended (--abort-on-exit)")
        self.maybe_all_final()

    def _is_exit_code_service(self, runner: ServiceRunner) -> bool:
        """Whether this is an instance of the `--exit-code-from` service and none has
        decided the run's code yet: the first end of one that ran (or stop of one, ran or
        not) decides it."""
        return (self.settings.exit_code_from == runner.instance.service.name
                and "exit-code-from" not in self.codes)

    def _report_failure(self, runner: ServiceRunner) -> None:
        from orchestra.runtime import stack_reports  # on a failure, not at every start

        stack_reports.report_failure(self, runner)

    def maybe_all_final(self) -> None:
        """The run is over when no runner will run again: none is live or being restarted,
        and, unless orchestra is stopping, none was stopped on request (`orchestra stop`
        keeps the stack up for a later `restart`)."""
        runners = self.runners.values()
        if any(not r.final or r in self.restarting for r in runners):
            return
        if not self.stopping and any(r.facts.stopped_on_request for r in runners):
            return
        self._all_final.set()

    # ------------------------------------------------------------------ control requests

    async def stop_instances(self, names: list[str]) -> list[str]:
        from orchestra.runtime import control_requests  # a control client's, at its request

        return await control_requests.stop_instances(self, names)

    async def start_instances(self, names: list[str]) -> list[str]:
        from orchestra.runtime import control_requests  # a control client's, at its request

        return await control_requests.start_instances(self, names)

    async def restart_instances(self, names: list[str]) -> list[str]:
        from orchestra.runtime import control_requests  # a control client's, at its request

        return await control_requests.restart_instances(self, names)

    # ------------------------------------------------------------------ stopping

    def _on_signal(self, signum: int) -> None:
        self._signals += 1
        name = signal.Signals(signum).name
        if self._signals > 1:
            self.mux.system(f"received {name} again: killing everything now", event="kill-all")
            self.mux.give_up_waiting()   # a reader that stopped reading must not hold us
            if self.foreground is not None:
                self.foreground.kill()
            for runner in self.runners.values():
                runner.handle(ev.KillRequested())
            return
        if self.foreground is not None and self.foreground.running:
            # The command decides the exit code; the services stop once it has ended.
            self.mux.system(f"received {name}: waiting for the command to end", event="signal")
            self.foreground.on_signal(signum)
            return
        self.codes.record("signal", 128 + signum)
        self.stop(f"received {name}")

    def on_output_broken(self) -> None:
        """orchestra's output went away (EPIPE, or its pipe's reader closed): stop everything
        and exit non-zero — unless a `run --with` command runs or is to run: its output is its
        own (a `| grep -q` that quits early is its business, as without orchestra), so the
        service lines are just no longer shown and the command decides the exit code."""
        if self.settings.foreground is not None:
            return
        self.codes.record("output", 1)
        self.stop("output closed")

    def down(self, timeout: float | None) -> None:
        """`orchestra down`: stop everything as on Ctrl-C; not a failure (exit 0 unless a
        service failed before). `timeout` overrides every stop timeout."""
        if timeout is not None:
            self._down_timeout = timeout
            for runner in self.runners.values():
                # a stop under way (Ctrl-C, a failure, `orchestra stop`) or the clean-up
                # of a run that exited on its own gets the timeout too; the others get it
                # from the stop below, in their wave
                if runner.state is State.STOPPING or (runner.state is State.RUNNING
                                                      and runner.facts.exit_seen):
                    runner.handle(ev.StopRequested())
        self.stop("orchestra down")

    def stop(self, reason: str) -> None:
        if self.stopping:
            return
        self.stopping = True
        if any(not r.final for r in self.runners.values()):
            self.mux.system(f"stopping all services: {reason}", event="stopping", reason=reason)
        for runner in self.runners.values():   # in start order: dependencies first
            # now, not in the wave task: a runner whose first step comes before that task's
            # must find the stop and skip, rather than start its process (one in backoff
            # ends at once: "stopped while waiting to restart", after the line above)
            if runner.state in (State.PENDING, State.BACKOFF):
                runner.handle(ev.StopRequested())
            if runner.state is State.PENDING:   # skipped now, naming its real reason
                runner.judge_dependencies()
        self._shutdown = asyncio.get_running_loop().create_task(self._stop_in_waves())

    async def _stop_in_waves(self) -> None:
        if self.foreground is not None and self.foreground.running:
            self.foreground.terminate()
        for runner in self.runners.values():
            if runner.state is State.PENDING:
                await self._stop(runner)   # returns at once: it becomes skipped
        live = [name for name in self.plan.order
                if any(not r.final for r in self._runners_of(name))]
        for wave in stop_waves(self.plan, live):
            await asyncio.gather(*(self._stop(r) for name in wave for r in self._runners_of(name)))
        self.maybe_all_final()   # every runner may have been final already (all stopped)

    @staticmethod
    async def _stop(runner: ServiceRunner) -> None:
        """Stop signal to the whole group, SIGKILL after the timeout; returns when done."""
        runner.handle(ev.StopRequested())
        await runner.until_done()

    def _runners_of(self, service: str) -> list[ServiceRunner]:
        return self._by_service.get(service, [])
