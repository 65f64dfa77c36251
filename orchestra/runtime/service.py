"""One service instance from pending to its end: `ServiceRunner`.

The runner waits for its dependencies (abortably), then runs its process — again and again
if its restart policy says so. Each run: spawn, feed the pipes to the multiplexer, watch
readiness then liveness, observe the exit through the process backend (`runtime/backends`),
clean up what is left in the process group, drain the pipes with a bound, and only then reap
the leader. Every state change goes through `_transition`, which checks the move against
`states.TRANSITIONS` and reports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from orchestra.config.model import Condition
from orchestra.config.values import signal_name
from orchestra.output.mux import Multiplexer
from orchestra.plan import Instance
from orchestra.runtime.backends import ProcessBackend, for_loop
from orchestra.runtime.groups import SOME, can_list_members, empty_group, signal_group
from orchestra.runtime.lifeline import Lifeline
from orchestra.runtime.pipes import Pipes
from orchestra.runtime.readiness import CheckRun
from orchestra.runtime.spawn import Child, SpawnError, spawn
from orchestra.runtime.states import State, check_transition
from orchestra.runtime.tasks import end_task, end_tasks

#: How long pipes may stay open after a service's group is gone (a process that left the group
#: with setsid may hold them forever; its later output is not worth hanging for).
DRAIN_TIMEOUT = 1.0
#: The exit code reported for a run that orchestra ended because a check failed.
CHECK_FAILED_CODE = 1


@dataclass(frozen=True, slots=True)
class ExitStatus:
    """How a process ended, as a shell reports it (128+N for signal N) and by which signal."""

    code: int                    # 0-255, 128+N when killed by signal N (never negative)
    signal: int | None           # the signal number that killed it, any signal (SIGRTMIN+6 too)

    @property
    def signal_name(self) -> str | None:
        return None if self.signal is None else signal_name(self.signal)

    def describe(self) -> str:
        if self.signal is not None:
            return f"killed by {self.signal_name} (rc={self.code})"
        return f"exited rc={self.code}"


@dataclass(slots=True)
class RunContext:
    """What every runner shares; owned by the orchestrator, used only on the event loop."""

    mux: Multiplexer
    lifeline: Lifeline
    environ: Mapping[str, str]
    stop_timeout: Callable[[Instance | None], float]
    on_final: Callable[[ServiceRunner], None]
    notify_path: Callable[[str], Path]
    processes: ProcessBackend = field(default_factory=for_loop)   # made on the running loop


class ServiceRunner:
    def __init__(self, instance: Instance, context: RunContext) -> None:
        self.instance = instance
        self.name = instance.name
        self.context = context
        self.state = State.PENDING
        self.has_started = False        # ever (--exit-code-from)
        self.started_this_run = False   # since the last start on request (`started`)
        self.restarts = 0            # runs started again by the restart policy, in all
        self.started_at: float | None = None   # wall-clock start of the current run
        self.became_ready = False    # ready at least once (a one-shot may be ready, then end)
        self.ready = False
        self.ready_reason = "not started"
        self.exit_status: ExitStatus | None = None
        self.dependencies: Sequence[tuple[Condition, Sequence[ServiceRunner]]] = ()
        self.child: Child | None = None
        loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()
        self._stop_requested: asyncio.Future[None] = loop.create_future()
        self._exited: asyncio.Future[ExitStatus] = loop.create_future()
        self._kill_timer: asyncio.TimerHandle | None = None
        self._failure: str | None = None     # why orchestra ended this run (a check failed)
        self.failure = ""                    # why the service failed, for annotations
        self.restart_forgone = False         # failed, but would have been restarted
        self.done = asyncio.Event()          # set when the runner will never run again
        self.stopped_on_request = False      # `orchestra stop`/`restart` ended this run
        self.restarting = False              # `orchestra restart`: it runs again at once
        self._stop_reason = "orchestra is stopping"

    # ------------------------------------------------------------------ state

    def _transition(self, target: State, message: str | None, **fields: object) -> None:
        """The only place the state changes; `message` None: reported in JSON output only."""
        check_transition(self.state, target)
        self.state = target
        self.context.mux.system(f"{self.name}: {message or target.value}", service=self.name,
                                event=target.value, json_only=message is None, **fields)
        self._notify_change()

    def changed(self) -> Coroutine[Any, Any, Literal[True]]:
        """Completes at this runner's next change of state or readiness, counted from now.

        Not a coroutine function on purpose: the event is taken at the call, not when the
        caller's task first runs. A change in between (a log line making the service ready in
        the same loop iteration) would otherwise replace the event before it is awaited, and
        the waiter would sleep through the change it was created for.
        """
        return self._changed.wait()

    def _notify_change(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _say(self, text: str, event: str, **fields: object) -> None:
        self.context.mux.system(f"{self.name}: {text}", service=self.name, event=event,
                                json_only=False, **fields)

    @property
    def final(self) -> bool:
        return self.done.is_set()

    def satisfies(self, condition: Condition) -> bool | None:
        """True: condition met; False: can never be met; None: not yet."""
        if condition is Condition.COMPLETED_SUCCESSFULLY:
            if not self.final:
                return None
            return self.state is State.EXITED and self.exit_status is not None \
                and self.exit_status.code == 0
        if condition is Condition.READY:
            # ready now, or ready once and then completed (a migration with a readiness check)
            met = self.ready or (self.became_ready
                                 and self.satisfies(Condition.COMPLETED_SUCCESSFULLY) is True)
        else:
            met = self.started_this_run
        if met:
            return True
        return False if self.final else None

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        try:
            blocker = await self._await_dependencies()
            if blocker is not None:
                self.failure = f"skipped: {blocker}"
                self._transition(State.SKIPPED, self.failure, reason=blocker)
            else:
                await self._run_with_restarts()
        except Exception as exc:  # a bug must not leave shutdown waiting for this runner
            self.exit_status = ExitStatus(1, None)
            self.state = State.FAILED
            self._say(f"internal error: {exc!r}", "internal-error")
            if self.child is not None:
                signal_group(self.child.pid, signal.SIGKILL)
        finally:
            self.done.set()
            self._notify_change()
            self.context.on_final(self)

    async def _run_with_restarts(self) -> None:
        policy = self.instance.service.restart
        restarts = 0
        while True:
            uptime = await self._run_once()
            from orchestra.runtime.policy import decide  # imported once a run has ended

            assert self.exit_status is not None
            decision = decide(policy, exit_code=self.exit_status.code, stopped_by_us=False,
                              restarts=restarts, uptime=uptime,
                              liveness_failed=self._failure is not None)
            if self._stop_requested.done():
                # ended on its own while orchestra was stopping: only the stop keeps it from
                # being restarted, so its failure is no failure of the run
                self.restart_forgone = decision.restart
                return
            if not decision.restart:
                if decision.exhausted:
                    self._say(f"giving up: {decision.reason}", "giving-up")
                return
            self.ready_reason = f"not ready: {decision.reason}"
            self._transition(State.BACKOFF, decision.reason, delay=decision.delay,
                             attempt=decision.attempt, max_restarts=policy.max_restarts)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._stop_requested), decision.delay)
            if self._stop_requested.done():
                self._transition(State.EXITED, "stopped while waiting to restart")
                return
            restarts = decision.attempt
            self.restarts += 1

    async def _await_dependencies(self) -> str | None:
        """Wait until every dependency's condition holds; the reason if it never will."""
        while True:
            waiting: list[ServiceRunner] = []
            for condition, runners in self.dependencies:
                for runner in runners:
                    verdict = runner.satisfies(condition)
                    if verdict is False:  # reported before "stopping": it is the real reason
                        return (f"dependency '{runner.name}' {runner.state.value} "
                                f"(needed: {condition.value})")
                    if verdict is None:
                        waiting.append(runner)
            if self._stop_requested.done():
                return self._stop_reason
            if not waiting:
                return None
            tasks: list[asyncio.Future[object]] = [asyncio.ensure_future(r.changed())
                                                   for r in waiting]
            tasks.append(asyncio.ensure_future(asyncio.shield(self._stop_requested)))
            try:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                await end_tasks(tasks)

    async def _run_once(self) -> float:
        """One run of the process; returns how long it was up (0 if it never started)."""
        self._transition(State.STARTING, None)
        self._failure = None
        self._exited = asyncio.get_running_loop().create_future()
        service = self.instance.service
        checks = CheckRun(self.name, service.readiness, service.liveness,
                          mux=self.context.mux, lifeline=self.context.lifeline,
                          cwd=service.run_dir, env={**self.context.environ, **self.instance.env},
                          notify_path=lambda: self.context.notify_path(self.name))
        try:
            if service.auto_ports and self.instance.port is not None:
                _refuse_a_taken_port(self.instance.port)
            child = spawn(service.argv, service.run_dir, checks.env, self.context.lifeline)
        except SpawnError as exc:
            checks.close()
            self.exit_status = ExitStatus(exc.exit_code, None)
            self.failure = f"cannot start: {exc.message}"
            self._transition(State.FAILED, self.failure, rc=exc.exit_code)
            return 0.0
        loop = asyncio.get_running_loop()
        started_at = loop.time()
        self.child = child
        self.context.processes.watch(child.pid, self._on_exit)
        # No await between spawn and RUNNING: a stop request always finds a state it can act on.
        self.has_started = self.started_this_run = True
        self.started_at = time.time()
        self._transition(State.RUNNING, f"started pid={child.pid}", pid=child.pid)
        checks.started(child.pid)
        pipes = Pipes()
        await pipes.attach(child, self.name, self.context.mux)
        watcher = asyncio.create_task(self._watch_checks(checks, child))
        status = await self._exited
        uptime = loop.time() - started_at
        await end_task(watcher)   # before anything else: no check may outlive its run
        self.ready, self.ready_reason = False, f"not ready: {status.describe()}"
        await self._clean_up(child, status, pipes)
        if not self.became_ready and checks.log_line_seen():
            # its line was read only while draining, after the exit was seen: it printed it
            # before it ended, so it was ready (then completed)
            self.became_ready = True
        checks.close()
        self._end_run(status)
        return uptime

    async def _watch_checks(self, checks: CheckRun, child: Child) -> None:
        def progress(reason: str) -> None:
            self.ready_reason = f"not ready: {reason}"
            self._say(self.ready_reason, "not-ready", reason=reason)

        ok, reason = await checks.wait_ready(progress)
        if not ok:
            self._fail_run(f"not ready: {reason}", child)
            return
        self.ready, self.ready_reason = True, reason
        self.became_ready = True
        if self.instance.service.readiness is not None:
            self._say(f"ready: {reason}", "ready", reason=reason)
        self._notify_change()
        self._fail_run(await checks.watch_liveness(), child)

    def _fail_run(self, reason: str, child: Child) -> None:
        """A check of `child`'s run failed: end that run (stop signal, then SIGKILL) and count
        it a failure. Never another run's: a check belongs to the process it watched."""
        if self.state is not State.RUNNING or self.child is not child:
            return
        self._failure = reason
        self.ready, self.ready_reason = False, reason
        self._say(reason, "check-failed", reason=reason)
        self._terminate()

    def _on_exit(self) -> None:
        assert self.child is not None
        # Read without reaping where the platform allows: the leader stays a zombie, so its
        # pid and process group id cannot be reused while we still signal the group.
        status = ExitStatus(*self.context.processes.status(self.child.pid))
        if not self._exited.done():
            self._exited.set_result(status)

    async def _clean_up(self, child: Child, status: ExitStatus, pipes: Pipes) -> None:
        """Empty the group, drain the pipes, then reap the leader (in that order)."""
        timeout = self.context.stop_timeout(self.instance)
        if self._kill_timer is not None:
            timeout = max(0.0, self._kill_timer.when() - asyncio.get_running_loop().time())
        stop_signal = self.instance.service.stop_signal
        signalled = self.state is State.STOPPING
        processes = self.context.processes
        if not can_list_members():   # only probes: a zombie leader would answer them
            processes.reap(child.pid)
        found, killed = await empty_group(child.pid, child.pid,
                                          None if signalled else stop_signal, timeout)
        if found and (killed or not signalled):
            how = "killed with SIGKILL" if killed else f"stopped with {signal_name(stop_signal)}"
            count = "some processes were" if found == SOME else f"{found} process(es)"
            self._say(f"{count} left in its group after it exited; {how}",
                      "group-cleanup")
        if not await pipes.drained(DRAIN_TIMEOUT, self.context.mux):
            self._say(f"output still open {DRAIN_TIMEOUT:g} s after exit (held by a process "
                      "outside its group); no longer read", "drain-timeout")
        self._cancel_kill_timer()
        self.context.lifeline.untrack(child.pid)
        if can_list_members():
            processes.reap(child.pid)                     # the pgid may now be reused
        child.popen.returncode = status.code              # Popen must not reap it again
        self.child = None

    def _end_run(self, status: ExitStatus) -> None:
        fields = {"rc": status.code, "signal": status.signal_name}
        if self._failure is not None:
            self.exit_status = ExitStatus(CHECK_FAILED_CODE, None)
            self.failure = self._failure
            self._transition(State.FAILED, f"failed ({status.describe()}): {self._failure}",
                             **fields)
            return
        self.exit_status = status
        if self.state is State.STOPPING:
            text = f"stopped by {status.signal_name}" if status.signal else status.describe()
            self._transition(State.EXITED, text, **fields)
        else:
            self.failure = status.describe()
            self._transition(State.EXITED if status.code == 0 else State.FAILED,
                             status.describe(), **fields)

    # ------------------------------------------------------------------ stopping

    async def stop_on_request(self) -> None:
        """`orchestra stop` (or the first half of `restart`): end this runner as shutdown
        would, without stopping anything else; not a failure of the run."""
        self.stopped_on_request = True
        self._stop_reason = "stopped on request"
        await self.stop()

    def prepare_rerun(self) -> None:
        """`orchestra start`/`restart` of a runner that has ended: back to pending, to wait
        for its dependencies and run again, readiness and all."""
        assert self.final
        self._stop_requested = asyncio.get_running_loop().create_future()
        self._stop_reason = "orchestra is stopping"
        self.stopped_on_request = False
        self.ready, self.became_ready = False, False
        self.started_this_run = False
        self.exit_status = None
        self.done.clear()
        self._transition(State.PENDING, "starting again on request")

    def cancel_start(self) -> None:
        """orchestra is stopping: a runner still waiting to start (or to start again, in
        backoff) never will."""
        if not self._stop_requested.done():
            self._stop_requested.set_result(None)

    async def stop(self) -> None:
        """Stop signal to the whole group, SIGKILL after the timeout; returns when done."""
        if not self._stop_requested.done():
            self._stop_requested.set_result(None)
        self._terminate()
        await self.done.wait()

    def _terminate(self) -> None:
        # After the leader exited, `_clean_up` owns the group: it got (or gets) its one stop
        # signal there, and the run ends as its exit said, not as "stopped".
        if self.state is not State.RUNNING or self.child is None or self._exited.done():
            return
        sig = self.instance.service.stop_signal
        timeout = self.context.stop_timeout(self.instance)
        self._transition(State.STOPPING, f"sending {signal_name(sig)} to process group "
                                         f"{self.child.pid}", signal=signal_name(sig))
        signal_group(self.child.pid, sig)
        self._kill_timer = asyncio.get_running_loop().call_later(
            timeout, self._kill_after_timeout, timeout)

    def _kill_after_timeout(self, timeout: float) -> None:
        self._kill_timer = None
        if self.child is not None and not self._exited.done():
            self._say(f"still running {timeout:g} s after its stop signal; sending SIGKILL",
                      "kill")
            signal_group(self.child.pid, signal.SIGKILL)

    def kill(self) -> None:
        """Second Ctrl-C: SIGKILL the group now."""
        if not self._stop_requested.done():
            self._stop_requested.set_result(None)
        if self.child is not None:
            signal_group(self.child.pid, signal.SIGKILL)

    def _cancel_kill_timer(self) -> None:
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
