"""The event loop's owner: starts every instance in dependency order, decides when to stop,
stops in reverse dependency order, and computes the exit code (DESIGN §3.2).

Exit code rules, in order of precedence (each reason keeps the first code it saw):
- `--exit-code-from SVC`: the code of the first instance of SVC that ran and ended;
- the first service that failed on its own (not stopped by orchestra): its code — even when
  a signal arrived while its exit was still being cleaned up, unless its restart policy would
  have restarted it (then only the stop prevented that: it is no failure of the run);
- `orchestra run --with`: the command's code;
- stopped by the user's signal: 128 + the signal (130 SIGINT, 143 SIGTERM, 129 SIGHUP);
- orchestra's own stdout broke: 1;
- otherwise (every service completed, or was stopped as asked): 0.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from orchestra.config.model import DEFAULT_STOP_TIMEOUT, Condition
from orchestra.output import github
from orchestra.output.mux import Multiplexer
from orchestra.plan import Instance, Plan, stop_waves
from orchestra.runtime.lifeline import Lifeline
from orchestra.runtime.service import RunContext, ServiceRunner
from orchestra.runtime.settings import ForegroundCommand, RunSettings
from orchestra.runtime.states import State
from orchestra.runtime.tasks import end_tasks

if TYPE_CHECKING:  # imported where used: most runs need neither
    from orchestra.runtime.detach import Detached
    from orchestra.runtime.foreground import ForegroundRun
    from orchestra.runtime.tails import Tails

__all__ = ["Orchestrator", "RunSettings"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: The longest folder a notify socket's directory may be made in (sun_path: 107 bytes).
MAX_SOCKET_BASE = 64
EXIT_CODE_PRECEDENCE = ("exit-code-from", "failure", "command", "signal", "output")


class StoppingError(RuntimeError):
    """A start or restart asked for while the stack stops."""


class Orchestrator:
    def __init__(self, plan: Plan, mux: Multiplexer, settings: RunSettings,
                 environ: Mapping[str, str]) -> None:
        self.plan = plan
        self.mux = mux
        self.settings = settings
        self.environ = environ
        self.runners: dict[str, ServiceRunner] = {}
        self._by_service: dict[str, list[ServiceRunner]] = {}   # service name → its instances
        self._codes: dict[str, int] = {}   # reason → the first exit code it gave
        self.stopping = False
        self._tasks: list[asyncio.Task[None]] = []   # every runner's runs, restarts too
        self._signals = 0
        self._all_final = asyncio.Event()
        self._shutdown: asyncio.Task[None] | None = None
        self._runtime_dir: Path | None = None
        self._socket_numbers = itertools.count(1)
        self._tails: Tails | None = None
        self._foreground: ForegroundRun | None = None
        self._lifeline = Lifeline()
        self._down_timeout: float | None = None   # `orchestra down -t`
        if settings.show_tails or settings.github:
            from orchestra.runtime.tails import Tails

            self._tails = Tails(mux, [i.name for i in plan.instances])

    def _notify_path(self, name: str) -> Path:
        """A fresh socket path in this run's private (0700) directory, made on first use."""
        if self._runtime_dir is None:
            import tempfile

            # A socket path holds at most 107 bytes: the first folder short enough for
            # "/orchestra-XXXXXXXX/notify-NNNN.sock" to fit in it.
            candidates = [c for c in (self.environ.get("XDG_RUNTIME_DIR"),
                                      tempfile.gettempdir(), "/tmp")
                          if c and len(os.fsencode(c)) <= MAX_SOCKET_BASE and Path(c).is_dir()]
            for base in candidates:   # the first one we may create a folder in
                try:
                    self._runtime_dir = Path(tempfile.mkdtemp(prefix="orchestra-", dir=base))
                    self._lifeline.remove_on_death(self._runtime_dir)
                    break
                except OSError:
                    continue
            else:
                raise OSError(f"no folder for notify sockets among {', '.join(candidates)}")
        return self._runtime_dir / f"notify-{next(self._socket_numbers)}.sock"

    def _stop_timeout(self, instance: Instance | None) -> float:
        if self._down_timeout is not None:
            return self._down_timeout
        if self.settings.stop_timeout is not None:
            return self.settings.stop_timeout
        if instance is not None and instance.service.stop_timeout is not None:
            return instance.service.stop_timeout
        return DEFAULT_STOP_TIMEOUT

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        lifeline = self._lifeline
        lifeline.start()
        context = RunContext(self.mux, lifeline, self.environ, self._stop_timeout,
                             self._on_final, self._notify_path)
        for instance in self.plan.instances:
            runner = self.runners[instance.name] = ServiceRunner(instance, context)
            self._by_service.setdefault(instance.service.name, []).append(runner)
        self._wire_dependencies()
        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, self._on_signal, signum)
        try:
            tasks = self._tasks
            tasks.extend(asyncio.create_task(r.run(), name=r.name)
                         for r in self.runners.values())
            if self.settings.foreground is not None:
                tasks.append(asyncio.create_task(self._run_foreground(self.settings.foreground)))
            if self.settings.detached is not None:
                tasks.append(asyncio.create_task(self._report_when_up(self.settings.detached)))
            if not self.runners:
                self._all_final.set()
            await self._all_final.wait()
            if self._shutdown is not None:
                await self._shutdown
            await asyncio.gather(*tasks)   # the list grows with restarts; none after the end
        finally:
            for signum in STOP_SIGNALS:
                loop.remove_signal_handler(signum)
            if self._runtime_dir is not None:
                import shutil

                shutil.rmtree(self._runtime_dir, ignore_errors=True)
                lifeline.folder_removed()
            lifeline.close()
            self.mux.close()
        return self.exit_code

    @property
    def exit_code(self) -> int:
        for reason in EXIT_CODE_PRECEDENCE:
            if reason in self._codes:
                return self._codes[reason]
        return 0

    def _record(self, reason: str, code: int) -> None:
        self._codes.setdefault(reason, code)

    def _wire_dependencies(self) -> None:
        for runner in self.runners.values():
            runner.dependencies = tuple(
                (dep.condition, self._runners_of(dep.service))
                for dep in runner.instance.service.depends_on)

    # ------------------------------------------------------------------ run --with

    async def _run_foreground(self, command: ForegroundCommand) -> None:
        import shlex

        from orchestra.discovery import discovery_env
        from orchestra.runtime.foreground import ForegroundRun

        reason = await self._why_not_ready()
        if reason is not None:
            if not self.stopping:   # a service ended without becoming ready
                self._record("failure", 1)
                self.stop(reason)
            self.mux.system(f"not running the command: {reason}", event="command-skipped",
                            reason=reason)
            if self.settings.github:
                self.mux.raw(github.error("orchestra: command not run",
                                               f"not running the command: {reason}"))
            return
        self._foreground = ForegroundRun(
            command, self._stop_timeout(None), self._lifeline,
            report=lambda text: self.mux.system(text, event="command-error"))
        self.mux.system("all services ready; running " + shlex.join(command.argv),
                        event="command-start")
        await self.mux.written()   # before the command writes to the same terminal
        code = await self._foreground.run(discovery_env(self.plan.instances))
        self.mux.system(f"command exited rc={code}", event="command-exit", rc=code)
        if code != 0 and self._tails is not None and self.settings.show_tails:
            self._tails.show(self.runners)
        self._record("command", code)
        self.stop("the command finished")

    async def _report_when_up(self, detached: Detached) -> None:
        """`up --detach`: tell the waiting command once every service has started (with
        `--wait`: is ready); if that cannot happen, say why and stop."""
        from orchestra.runtime.detach import report

        condition = Condition.READY if detached.wait else Condition.STARTED
        reason = await self._why_not_ready(condition)
        if reason is None:
            what = "ready" if detached.wait else "started"
            report(detached, True, f"{len(self.runners)} instance(s) {what}; logs in "
                                   f"{detached.log_dir}")
            return
        if not self.stopping:
            self._record("failure", 1)
            self.stop(reason)
        report(detached, False, f"{reason} (its output: {detached.log_dir})")

    async def _why_not_ready(self, condition: Condition = Condition.READY) -> str | None:
        """Wait until every service is ready for the command (or, with STARTED, has started);
        None then, else why it never will be.

        Ready: its readiness check passed (a one-shot may then have completed with 0), or,
        with no check, it started (a one-shot: it completed with 0). A service with a check
        that ended before ever passing it will never be ready, whatever its exit code.
        """
        while True:
            unready = []
            for runner in self.runners.values():
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
            if self.stopping:
                return "orchestra is stopping"
            if not unready:
                return None
            waiting = [asyncio.ensure_future(runner.changed()) for runner in unready]
            try:
                await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            finally:
                await end_tasks(waiting)

    # ------------------------------------------------------------------ decisions

    def _on_final(self, runner: ServiceRunner) -> None:
        if runner.restarting:   # `orchestra restart`: it runs again at once
            return
        if runner.stopped_on_request:   # `orchestra stop`: no failure, nothing else stops
            self._maybe_all_final()
            return
        status = runner.exit_status
        service = runner.instance.service.name
        if runner.state is State.FAILED and not self.stopping:
            self._report_failure(runner)
        if runner.state is State.FAILED and status is not None and not runner.restart_forgone:
            self._record("failure", status.code)   # FAILED: it ended on its own, not stopped
        if (self.settings.exit_code_from == service and status is not None
                and runner.has_started and "exit-code-from" not in self._codes):
            # the first instance to end decides; the others are then stopped by orchestra
            self._record("exit-code-from", status.code)
            self.stop(f"{runner.name} ended (--exit-code-from)")
        elif runner.state is State.FAILED and not self.stopping:
            self.stop(f"{runner.name} failed")
        elif runner.state is State.SKIPPED and not self.stopping:
            # its dependency ended without meeting the condition: the stack cannot come up
            self._report_failure(runner)
            self._record("failure", 1)
            self.stop(f"{runner.name} skipped")
        elif self.settings.abort_on_exit and status is not None and not self.stopping:
            self.stop(f"{runner.name} ended (--abort-on-exit)")
        self._maybe_all_final()

    def _maybe_all_final(self) -> None:
        """The run is over when no runner will run again: none is live or being restarted,
        and, unless orchestra is stopping, none was stopped on request (`orchestra stop`
        keeps the stack up for a later `restart`)."""
        runners = self.runners.values()
        if any(not r.final or r.restarting for r in runners):
            return
        if not self.stopping and any(r.stopped_on_request for r in runners):
            return
        self._all_final.set()

    # ------------------------------------------------------------------ control requests

    async def stop_instances(self, names: list[str]) -> list[str]:
        """`orchestra stop`: these instances stop as at shutdown; the others go on. Refused
        while the whole stack stops (it would change how its runners' ends are judged)."""
        self._refuse_while_stopping()
        await self._stop_in_waves_on_request(names)
        return names

    async def _stop_in_waves_on_request(self, names: list[str]) -> None:
        """Stop these instances as shutdown does: in waves, each after its dependents among
        them (`web` before `db` when both are asked for)."""
        chosen = [self.runners[name] for name in names]
        services = [n for n in self.plan.order
                    if any(r.instance.service.name == n and not r.final for r in chosen)]
        for wave in stop_waves(self.plan, services):
            await asyncio.gather(*(r.stop_on_request() for r in chosen
                                   if r.instance.service.name in wave and not r.final))

    async def start_instances(self, names: list[str]) -> list[str]:
        """`orchestra start`: the instances that have ended run again (waiting for their
        dependencies and readiness as at start-up); running ones are left alone."""
        self._refuse_while_stopping()
        started = []
        for name in names:
            runner = self.runners[name]
            if runner.final:
                self._rerun(runner)
                started.append(name)
        return started

    async def restart_instances(self, names: list[str]) -> list[str]:
        """`orchestra restart`: stop these instances (if running), then run them again."""
        self._refuse_while_stopping()
        runners = [self.runners[name] for name in names]
        for runner in runners:
            runner.restarting = True
        try:
            await self._stop_in_waves_on_request(names)
        finally:
            for runner in runners:
                runner.restarting = False
        if self.stopping:   # while they stopped: they stay stopped, and the run may be over
            self._maybe_all_final()
        self._refuse_while_stopping()
        for runner in runners:
            if runner.final:   # another restart that awaited the same stop may have run it
                self._rerun(runner)
        return names

    def _refuse_while_stopping(self) -> None:
        if self.stopping:
            raise StoppingError("orchestra is stopping; nothing starts now")

    def _rerun(self, runner: ServiceRunner) -> None:
        if self._all_final.is_set():   # the run is over: nothing may start after it
            raise StoppingError("orchestra has finished; nothing starts now")
        runner.prepare_rerun()
        self._tasks.append(asyncio.create_task(runner.run(), name=runner.name))

    def _report_failure(self, runner: ServiceRunner) -> None:
        """Show a failing service's last lines where they help: CI logs, quiet runs."""
        if self._tails is None:
            return
        if self.settings.github:
            self.mux.raw(github.error(f"orchestra: {runner.name} failed",
                                           f"{runner.name}: {runner.failure or 'failed'}"))
            lines = self._tails.lines(runner.name)
            if lines:
                self.mux.raw(github.group(f"{runner.name}: last lines"))
                self.mux.replay(runner.name, lines)
                self.mux.raw(github.END_GROUP)
        elif self.settings.show_tails and runner.state is not State.SKIPPED:
            self._tails.show([runner.name])

    def _on_signal(self, signum: int) -> None:
        self._signals += 1
        name = signal.Signals(signum).name
        if self._signals > 1:
            self.mux.system(f"received {name} again: killing everything now", event="kill-all")
            if self._foreground is not None:
                self._foreground.kill()
            for runner in self.runners.values():
                runner.kill()
            return
        if self._foreground is not None and self._foreground.running:
            # The command decides the exit code; the services stop once it has ended.
            self.mux.system(f"received {name}: waiting for the command to end", event="signal")
            self._foreground.on_signal(signum)
            return
        self._record("signal", 128 + signum)
        self.stop(f"received {name}")

    def on_output_broken(self) -> None:
        """orchestra's output went away (EPIPE, or its pipe's reader closed): stop everything
        and exit non-zero — unless a `run --with` command runs or is to run: its output is its
        own (a `| grep -q` that quits early is its business, as without orchestra), so the
        service lines are just no longer shown and the command decides the exit code."""
        if self.settings.foreground is not None:
            return
        self._record("output", 1)
        self.stop("output closed")

    def down(self, timeout: float | None) -> None:
        """`orchestra down`: stop everything as on Ctrl-C; not a failure (exit 0 unless a
        service failed before). `timeout` overrides every stop timeout."""
        if timeout is not None:
            self._down_timeout = timeout
        self.stop("orchestra down")

    def stop(self, reason: str) -> None:
        if self.stopping:
            return
        self.stopping = True
        for runner in self.runners.values():
            # now, not in the wave task: a runner whose first step comes before that task's
            # must find the stop and skip, rather than start its process
            if runner.state in (State.PENDING, State.BACKOFF):
                runner.cancel_start()
        if any(not r.final for r in self.runners.values()):
            self.mux.system(f"stopping all services: {reason}", event="stopping", reason=reason)
        self._shutdown = asyncio.get_running_loop().create_task(self._stop_in_waves())

    async def _stop_in_waves(self) -> None:
        if self._foreground is not None and self._foreground.running:
            self._foreground.terminate()
        for runner in self.runners.values():
            if runner.state is State.PENDING:
                await runner.stop()   # returns at once: it becomes skipped
        live = [name for name in self.plan.order
                if any(not r.final for r in self._runners_of(name))]
        for wave in stop_waves(self.plan, live):
            await asyncio.gather(*(r.stop() for name in wave for r in self._runners_of(name)))
        self._maybe_all_final()   # every runner may have been final already (all stopped)

    def _runners_of(self, service: str) -> list[ServiceRunner]:
        return self._by_service.get(service, [])
