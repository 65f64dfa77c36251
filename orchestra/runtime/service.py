"""One service instance from pending to its end: `ServiceRunner`, the I/O shell of
`runtime/machine.py`.

The machine decides; the runner does. Everything that happens to an instance — its
dependencies' verdict, a spawn, an exit, a check, a timer, a stop or a start asked for by
Ctrl-C, the control socket or the file watcher — becomes an event given to `handle`, the one
entry point: it calls `machine.step`, keeps the new `Facts` (the only place they change, and
so the only place a state changes), and performs the actions (a `system` line, a signal to
the group, a timer). The longer actions (await the dependencies, one run of the process, the
restart delay) are run one after another by the runner's task, `run`, and each ends in an
event. One run: spawn, feed the pipes to the multiplexer, watch readiness then liveness,
observe the exit through the process backend (`runtime/backends`), then clean up
(`runtime/cleanup.py`: empty the group, drain the pipes, reap the leader).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Coroutine, Sequence
from typing import Any, Literal

from orchestra.config.model import Condition
from orchestra.plan import Instance
from orchestra.runtime import events as ev
from orchestra.runtime.exit_status import ExitStatus
from orchestra.runtime.facts import Facts, Given, dependency_verdict, satisfies
from orchestra.runtime.groups import signal_group
from orchestra.runtime.machine import step
from orchestra.runtime.pipes import Pipes
from orchestra.runtime.readiness import CheckRun
from orchestra.runtime.run_context import RunContext
from orchestra.runtime.spawn import Child, SpawnError, spawn
from orchestra.runtime.states import State
from orchestra.runtime.tasks import end_task, end_tasks

__all__ = ["ExitStatus", "RunContext", "ServiceRunner"]


class ServiceRunner:
    def __init__(self, instance: Instance, context: RunContext) -> None:
        self.instance = instance
        self.name = instance.name
        self.context = context
        self._facts = Facts()   # changed only by `handle`
        self.dependencies: Sequence[tuple[Condition, Sequence[ServiceRunner]]] = ()
        self.child: Child | None = None
        self.started_at: float | None = None   # wall-clock start of the current run (ps)
        self.done = asyncio.Event()            # set when the runner will never run again
        self._changed = asyncio.Event()
        self._work: ev.Action | None = ev.AwaitDependencies()   # the next long action
        self._exited: asyncio.Future[ExitStatus] = asyncio.get_running_loop().create_future()
        self._kill_timer: asyncio.TimerHandle | None = None
        self._hurry_cleanup = asyncio.Event()   # per run: `KillLeftovers`

    # ------------------------------------------------------------------ the one entry point

    def handle(self, event: ev.Event) -> None:
        """Give the machine an event; keep its facts; perform its actions."""
        given = Given(self.instance.service, self.context.stop_timeout(self.instance),
                      asyncio.get_running_loop().time())
        before = self._facts
        self._facts, actions = step(before, event, given)
        if self.done.is_set() and not self._facts.finished:
            self.done.clear()   # started again on request
        for action in actions:
            self._perform(action)
        if self._facts != before:
            self._notify_change()

    def _perform(self, action: ev.Action) -> None:
        if isinstance(action, ev.Report):
            self.context.mux.system(f"{self.name}: {action.text}", service=self.name,
                                    event=action.event, json_only=action.json_only,
                                    **dict(action.fields))
        elif isinstance(action, ev.SignalGroup):
            signal_group(action.pid, action.signal)
        elif isinstance(action, ev.KillLeftovers):
            self._hurry_cleanup.set()
        elif isinstance(action, ev.ArmKillTimer):
            if self._kill_timer is not None:   # replaced by a sooner one (`down -t`)
                self._kill_timer.cancel()
            after = action.timeout if action.after is None else action.after
            self._kill_timer = asyncio.get_running_loop().call_later(
                action.timeout, self._on_kill_timer, action.run, round(after, 1))
        else:   # Spawn, ArmBackoff, AwaitDependencies, Finish: for `run`, in turn
            self._work = action

    def changed(self) -> Coroutine[Any, Any, Literal[True]]:
        """Completes at this runner's next change of facts (state, readiness, a stop asked
        for), counted from now.

        Not a coroutine function on purpose: the event is taken at the call, not when the
        caller's task first runs. A change in between (a log line making the service ready in
        the same loop iteration) would otherwise replace the event before it is awaited, and
        the waiter would sleep through the change it was created for.
        """
        return self._changed.wait()

    def _notify_change(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _say(self, text: str, event: str) -> None:
        self.context.mux.system(f"{self.name}: {text}", service=self.name, event=event,
                                json_only=False)

    # ------------------------------------------------------------------ what others read

    @property
    def facts(self) -> Facts:
        """What the machine knows of this instance (read-only: events change it)."""
        return self._facts

    @property
    def final(self) -> bool:
        return self.done.is_set()

    @property
    def state(self) -> State:
        return self.facts.state

    @property
    def exit_status(self) -> ExitStatus | None:
        return self.facts.exit_status

    @property
    def failure(self) -> str:
        return self.facts.failure

    def satisfies(self, condition: Condition) -> bool | None:
        """True: condition met; False: can never be met; None: not yet."""
        return satisfies(self.facts, condition)

    async def until_done(self) -> None:
        await self.done.wait()

    # ------------------------------------------------------------------ the runner's task

    async def run(self) -> None:
        """Perform the long actions the machine asks for, in turn, until it finishes."""
        try:
            while not self.facts.finished:
                work, self._work = self._work, None
                if isinstance(work, ev.AwaitDependencies):
                    await self._await_dependencies()
                elif isinstance(work, ev.Spawn):
                    await self._run_once()
                elif isinstance(work, ev.ArmBackoff):
                    await self._back_off(work.delay)
                else:
                    raise RuntimeError(f"no next step in state {self.facts.state}")
        except Exception as exc:  # a bug must not leave shutdown waiting for this runner
            self.handle(ev.InternalError(repr(exc)))
        finally:
            self.done.set()
            self._notify_change()
            self.context.on_final(self)

    def judge_dependencies(self) -> bool:
        """Give the machine the dependencies' verdict, if there is one yet (False: none).

        The orchestrator calls it too, when it stops, for every pending runner in start
        order: each is skipped at once, after its dependencies, so the reason it gives is the
        real one (`dependency 'app' skipped`, not `orchestra is stopping`) whichever runner's
        task the event loop happens to wake first."""
        verdict = dependency_verdict(self.facts, [
            (condition, [(r.name, r.facts) for r in runners])
            for condition, runners in self.dependencies])
        if verdict is True:
            self.handle(ev.DependenciesMet())
        elif isinstance(verdict, str):
            self.handle(ev.DependencyBlocked(verdict))
        return verdict is not False

    async def _await_dependencies(self) -> None:
        """Wait until every dependency's condition holds, or never will (abortably)."""
        while not self.judge_dependencies():
            tasks = [asyncio.ensure_future(r.changed())
                     for _, runners in self.dependencies for r in runners]
            tasks.append(asyncio.ensure_future(self.changed()))   # a stop
            try:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                await end_tasks(tasks)

    async def _back_off(self, delay: float) -> None:
        """Wait `delay` in backoff; a stop ends the wait (the machine ends the runner)."""
        deadline = asyncio.get_running_loop().time() + delay
        while self.facts.state is State.BACKOFF:
            try:
                async with asyncio.timeout_at(deadline):
                    await self.changed()
            except TimeoutError:
                self.handle(ev.BackoffElapsed())
                return

    async def _run_once(self) -> None:
        """One run of the process, from spawn to clean-up, ending in `Exited`."""
        service = self.instance.service
        checks = CheckRun(self.name, service.readiness, service.liveness,
                          mux=self.context.mux, lifeline=self.context.lifeline,
                          cwd=service.run_dir, env={**self.context.environ, **self.instance.env},
                          notify_path=lambda: self.context.notify_path(self.name))
        started = await self._start_process(checks)
        if started is None:
            return
        child, pipes = started
        run = self.facts.run
        watcher = asyncio.create_task(self._watch_checks(checks, run))
        status = await self._exited
        await end_task(watcher)   # before anything else: no check may outlive its run
        await self._clean_up(child, status, pipes)
        log_line_seen = checks.log_line_seen()   # read only while draining: printed before
        checks.close()
        self.handle(ev.Exited(run, status, log_line_seen))

    async def _start_process(self, checks: CheckRun) -> tuple[Child, Pipes] | None:
        """Spawn → RUNNING → pipes attached; None when it could not start."""
        service = self.instance.service
        self._exited = asyncio.get_running_loop().create_future()
        self._hurry_cleanup = asyncio.Event()
        try:
            if service.auto_ports and self.instance.port is not None:
                _refuse_a_taken_port(self.instance.port)
            child = spawn(service.argv, service.run_dir, checks.env, self.context.lifeline,
                          tty=service.tty)
        except SpawnError as exc:
            checks.close()
            self.handle(ev.SpawnFailed(exc.message, exc.exit_code))
            return None
        self.child = child
        self.started_at = time.time()
        # No await between spawn and RUNNING: a stop request always finds a state it can act on.
        self.handle(ev.Spawned(child.pid))
        self.context.processes.watch(child.pid,
                                     functools.partial(self._on_exit, child, self.facts.run))
        checks.started(child.pid)
        pipes = Pipes()
        await pipes.attach(child, self.name, self.context.mux)
        return child, pipes

    async def _watch_checks(self, checks: CheckRun, run: int) -> None:
        ok, reason = await checks.wait_ready(
            lambda reason: self.handle(ev.NotReady(run, reason)))
        if not ok:
            self.handle(ev.CheckFailed(run, f"not ready: {reason}"))
            return
        self.handle(ev.BecameReady(run, reason))
        self.handle(ev.CheckFailed(run, await checks.watch_liveness()))

    def _on_exit(self, child: Child, run: int) -> None:
        # Read without reaping where the platform allows: the leader stays a zombie, so its
        # pid and process group id cannot be reused while we still signal the group.
        status = ExitStatus(*self.context.processes.status(child.pid))
        if not self._exited.done():
            self._exited.set_result(status)
            self.handle(ev.ExitObserved(run, status))

    def _on_kill_timer(self, run: int, after: float) -> None:
        self._kill_timer = None
        self.handle(ev.KillTimerFired(run, after))

    async def _clean_up(self, child: Child, status: ExitStatus, pipes: Pipes) -> None:
        from orchestra.runtime.cleanup import clean_up  # after an exit, not at every start

        timeout = self.context.stop_timeout(self.instance)
        if self._kill_timer is not None:   # the stop signal's SIGKILL keeps its time
            timeout = max(0.0, self._kill_timer.when() - asyncio.get_running_loop().time())
            self._disarm_kill_timer()
        await clean_up(child, status, pipes, processes=self.context.processes,
                       lifeline=self.context.lifeline, mux=self.context.mux,
                       stop_signal=self.instance.service.stop_signal,
                       signalled=self.facts.state is State.STOPPING, timeout=timeout,
                       hurry=self._hurry_cleanup, say=self._say)
        self._disarm_kill_timer()   # armed by a stop during clean-up, which is over
        self.child = None

    def _disarm_kill_timer(self) -> None:
        if self._kill_timer is not None:
            self._kill_timer.cancel()
            self._kill_timer = None


def _refuse_a_taken_port(port: int) -> None:
    """`port: auto` picked a port that was free then; if another process listens on it by
    now, the service could not bind it (or a readiness check would reach the wrong process):
    say so rather than hide it."""
    from orchestra.config.ports import taken_since_picked  # only for `port: auto`

    reason = taken_since_picked(port)
    if reason is not None:
        raise SpawnError(reason, 1)
