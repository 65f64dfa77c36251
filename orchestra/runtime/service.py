"""One service instance from pending to its final state: `ServiceRunner`.

The runner waits for its dependencies (abortably), spawns its process, feeds its pipes to the
multiplexer, observes its exit through a pidfd, cleans up what is left in its process group,
drains its pipes with a bound, and only then reaps the leader. Every state change goes through
`_transition`, which checks the move against `states.TRANSITIONS` and reports it.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from orchestra.config.model import Condition
from orchestra.output.mux import Multiplexer
from orchestra.plan import Instance
from orchestra.runtime.groups import empty_group, signal_group
from orchestra.runtime.lifeline import Lifeline
from orchestra.runtime.pipes import Pipes
from orchestra.runtime.spawn import Child, SpawnError, spawn
from orchestra.runtime.states import FINAL, State, check_transition

#: How long pipes may stay open after a service's group is gone (a process that left the group
#: with setsid may hold them forever; its later output is not worth hanging for).
DRAIN_TIMEOUT = 1.0


@dataclass(frozen=True, slots=True)
class ExitStatus:
    code: int                    # 0-255, 128+N when killed by signal N (never negative)
    signal: signal.Signals | None

    def describe(self) -> str:
        if self.signal is not None:
            return f"killed by {self.signal.name} (rc={self.code})"
        return f"exited rc={self.code}"


@dataclass(slots=True)
class RunContext:
    """What every runner shares; owned by the orchestrator, used only on the event loop."""

    mux: Multiplexer
    lifeline: Lifeline
    environ: Mapping[str, str]
    stop_timeout: Callable[[Instance], float]
    on_final: Callable[[ServiceRunner], None]


class ServiceRunner:
    def __init__(self, instance: Instance, context: RunContext) -> None:
        self.instance = instance
        self.name = instance.name
        self.context = context
        self.state = State.PENDING
        self.ready = False
        self.ready_reason = "not started"
        self.exit_status: ExitStatus | None = None
        self.reason = ""
        self.dependencies: Sequence[tuple[Condition, Sequence[ServiceRunner]]] = ()
        self.child: Child | None = None
        loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()
        self._stop_requested = loop.create_future()
        self._exited: asyncio.Future[ExitStatus] = loop.create_future()
        self._kill_timer: asyncio.TimerHandle | None = None
        self.done = asyncio.Event()

    # ------------------------------------------------------------------ state

    def _transition(self, target: State, message: str | None, **fields: object) -> None:
        """The only place the state changes; `message` None: reported in JSON output only."""
        check_transition(self.state, target)
        self.state = target
        self.context.mux.system(f"{self.name}: {message or target.value}", service=self.name,
                                event=target.value, json_only=message is None, **fields)
        self._changed.set()
        self._changed = asyncio.Event()
        if target in FINAL:
            self.done.set()
            self.context.on_final(self)

    @property
    def final(self) -> bool:
        return self.state in FINAL

    def satisfies(self, condition: Condition) -> bool | None:
        """True: condition met; False: can never be met; None: not yet."""
        if condition is Condition.COMPLETED_SUCCESSFULLY:
            if self.final:
                return self.state is State.EXITED and self.exit_status is not None \
                    and self.exit_status.code == 0
            return None
        if condition is Condition.READY:
            if self.ready:
                return True
        elif self.state in (State.RUNNING, State.STOPPING) or (
                self.state is State.EXITED and self.exit_status is not None):
            return True
        return False if self.final else None

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        blocker = await self._await_dependencies()
        if blocker is not None:
            self._transition(State.SKIPPED, f"skipped: {blocker}")
            return
        self._transition(State.STARTING, None)
        try:
            child = spawn(self.instance.service.argv, self.instance.service.run_dir,
                          {**self.context.environ, **self.instance.env})
        except SpawnError as exc:
            self.exit_status = ExitStatus(exc.exit_code, None)
            self.reason = exc.message
            self._transition(State.FAILED, f"cannot start: {exc.message}", rc=exc.exit_code)
            return
        self.child = child
        self.context.lifeline.track(child.pid)
        asyncio.get_running_loop().add_reader(child.pidfd, self._on_pidfd)
        self.ready, self.ready_reason = True, "started"
        # No await between spawn and RUNNING: a stop request always finds a state it can act on.
        self._transition(State.RUNNING, f"started pid={child.pid}", pid=child.pid)
        pipes = Pipes()
        await pipes.attach(child, self.name, self.context.mux)
        status = await self._exited
        await self._finish(child, status, pipes)

    async def _await_dependencies(self) -> str | None:
        """Wait until every dependency's condition holds; the reason if it never will."""
        while True:
            if self._stop_requested.done():
                return "orchestra is stopping"
            waiting = []
            for condition, runners in self.dependencies:
                for runner in runners:
                    verdict = runner.satisfies(condition)
                    if verdict is False:
                        return (f"dependency '{runner.name}' {runner.state.value} "
                                f"(needed: {condition.value})")
                    if verdict is None:
                        waiting.append(runner._changed.wait())
            if not waiting:
                return None
            tasks = [asyncio.ensure_future(w) for w in waiting]
            await asyncio.wait([*tasks, self._stop_requested],
                               return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                task.cancel()

    def _on_pidfd(self) -> None:
        assert self.child is not None
        asyncio.get_running_loop().remove_reader(self.child.pidfd)
        # WNOWAIT: read the status but leave the leader a zombie, so its pid and process group
        # id cannot be reused while we still signal the group.
        result = os.waitid(os.P_PIDFD, self.child.pidfd, os.WEXITED | os.WNOWAIT)
        if result is None:  # pragma: no cover - the pidfd is readable only once it exited
            return
        if result.si_code == os.CLD_EXITED:
            status = ExitStatus(result.si_status, None)
        else:
            sig = signal.Signals(result.si_status)
            status = ExitStatus(128 + result.si_status, sig)
        if not self._exited.done():
            self._exited.set_result(status)

    async def _finish(self, child: Child, status: ExitStatus, pipes: Pipes) -> None:
        timeout = self.context.stop_timeout(self.instance)
        stop_signal = self.instance.service.stop_signal
        if self._kill_timer is not None:
            remaining = max(0.0, self._kill_timer.when() - asyncio.get_running_loop().time())
            timeout = remaining
        found, killed = await empty_group(child.pid, child.pid, stop_signal, timeout)
        if found:
            self.context.mux.system(
                f"{self.name}: {found} process(es) left in its group after it exited; "
                + ("killed with SIGKILL" if killed else f"stopped with {stop_signal.name}"),
                service=self.name, event="group-cleanup")
        if not await pipes.drained(DRAIN_TIMEOUT):
            self.context.mux.system(
                f"{self.name}: output still open {DRAIN_TIMEOUT:g} s after exit "
                "(held by a process outside its group); no longer read", service=self.name,
                event="drain-timeout")
        self._cancel_kill_timer()
        self.context.lifeline.untrack(child.pid)
        os.waitid(os.P_PIDFD, child.pidfd, os.WEXITED)   # reap: the pgid may now be reused
        child.popen.returncode = status.code              # Popen must not reap it again
        os.close(child.pidfd)
        self.exit_status = status
        stopping = self.state is State.STOPPING
        ok = status.code == 0 or stopping
        fields = {"rc": status.code, "signal": status.signal.name if status.signal else None}
        text = status.describe()
        if stopping and status.signal is not None:
            text = f"stopped by {status.signal.name}"
        self._transition(State.EXITED if ok else State.FAILED, text, **fields)

    # ------------------------------------------------------------------ stopping

    async def stop(self) -> None:
        """Stop signal to the whole group, SIGKILL after the timeout; returns when final."""
        if not self._stop_requested.done():
            self._stop_requested.set_result(None)
        if self.state is State.RUNNING and self.child is not None:
            sig = self.instance.service.stop_signal
            timeout = self.context.stop_timeout(self.instance)
            self._transition(State.STOPPING, f"sending {sig.name} to process group "
                                             f"{self.child.pid}", signal=sig.name)
            signal_group(self.child.pid, sig)
            self._kill_timer = asyncio.get_running_loop().call_later(
                timeout, self._kill_after_timeout, timeout)
        await self.done.wait()

    def _kill_after_timeout(self, timeout: float) -> None:
        self._kill_timer = None
        if self.child is not None and not self._exited.done():
            self.context.mux.system(f"{self.name}: still running {timeout:g} s after its stop "
                                    "signal; sending SIGKILL", service=self.name, event="kill")
            signal_group(self.child.pid, signal.SIGKILL)

    def kill(self) -> None:
        """Second Ctrl-C: SIGKILL the group now."""
        if not self._stop_requested.done():
            self._stop_requested.set_result(None)
        if self.child is not None and not self.final:
            signal_group(self.child.pid, signal.SIGKILL)

    def _cancel_kill_timer(self) -> None:
        if self._kill_timer is not None:
            self._kill_timer.cancel()
            self._kill_timer = None
