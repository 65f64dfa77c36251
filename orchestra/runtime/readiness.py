"""Readiness and liveness of one run of a service (DESIGN §2.4).

Readiness is a separate axis from the state, and always carries a human reason:
`ready: tcp 127.0.0.1:5432 accepted after 1.4 s`, `not ready: http 503 (attempt 7)`.

- tcp, http, exec: one attempt every `interval` (never faster), each bounded by `timeout`,
  until one succeeds. As in compose, failures within `start_period` do not count; after it,
  `retries` failures (default 0) are tolerated and the next one gives up.
- log: no polling; the multiplexer hands every line of the service to a listener that is
  registered before the process starts, so even its very first line counts.
- notify: no polling; `READY=1` arriving on the service's `NOTIFY_SOCKET`.

Liveness (tcp, http, exec, or log as a heartbeat) starts once the service is ready and fails
after more than `retries` (default 2) consecutive failed intervals.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from orchestra.config.model import CheckKind
from orchestra.output.mux import Multiplexer
from orchestra.runtime.lifeline import Lifeline

if TYPE_CHECKING:
    from orchestra.config.model_parts import Check
    from orchestra.runtime.notify import NotifySocket

DEFAULT_LIVENESS_RETRIES = 2


async def _attempt(check: Check, *, cwd: str, env: Mapping[str, str],
                   lifeline: Lifeline) -> tuple[bool, str]:
    from orchestra.runtime import probes  # ssl, urllib: only for services with such checks

    return await probes.attempt(check, cwd=cwd, env=env, lifeline=lifeline)


class CheckRun:
    """The checks of one run of one instance; created before the spawn, closed after exit."""

    def __init__(self, name: str, readiness: Check | None, liveness: Check | None, *,
                 mux: Multiplexer, lifeline: Lifeline, cwd: str, env: Mapping[str, str],
                 notify_path: Callable[[], str]) -> None:
        self.name = name
        self.readiness = readiness
        self.liveness = liveness
        self.mux = mux
        self.lifeline = lifeline
        self.cwd = cwd
        self.env = dict(env)
        self.reason = "not started"
        loop = asyncio.get_running_loop()
        self._log_match: asyncio.Future[str] = loop.create_future()
        self._heartbeats = 0
        self._notify_ready: asyncio.Future[None] = loop.create_future()
        self._unsubscribe: list[Callable[[], None]] = []
        self._socket: NotifySocket | None = None
        for check in (readiness, liveness):
            if check is not None and check.kind is CheckKind.LOG:
                self._watch_log(check, is_liveness=check is liveness)
        if readiness is not None and readiness.kind is CheckKind.NOTIFY:
            from orchestra.runtime.notify import NotifySocket

            self._socket = NotifySocket(notify_path())
            self.env["NOTIFY_SOCKET"] = str(self._socket.path)

    # ------------------------------------------------------------------ set-up

    def _watch_log(self, check: Check, *, is_liveness: bool) -> None:
        pattern = re.compile(check.pattern or "")

        def on_line(line: str) -> None:
            if pattern.search(line) is None:
                return
            if is_liveness:
                self._heartbeats += 1
            elif not self._log_match.done():
                self._log_match.set_result(line)

        self._unsubscribe.append(self.mux.add_line_listener(self.name, on_line))

    def log_line_seen(self) -> bool:
        """Whether the `log` readiness check's line has been printed (read), even if the
        check itself has ended."""
        return self._log_match.done() and not self._log_match.cancelled()

    def started(self, pgid: int) -> None:
        if self._socket is not None:
            self._socket.listen(pgid, self._on_notify)

    def _on_notify(self, message: dict[str, str]) -> None:
        if "STATUS" in message:
            self.mux.system(f"{self.name}: status: {message['STATUS']}", service=self.name,
                            event="status", status=message["STATUS"])
        if message.get("READY") == "1" and not self._notify_ready.done():
            self._notify_ready.set_result(None)
        if message.get("STOPPING") == "1":
            self.mux.system(f"{self.name}: stopping (STOPPING=1)", service=self.name,
                            event="notify-stopping")

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    # ------------------------------------------------------------------ readiness

    async def wait_ready(self, on_progress: Callable[[str], None]) -> tuple[bool, str]:
        """(True, reason) once ready; (False, reason) when the check gave up."""
        check = self.readiness
        if check is None:
            return True, "started"
        start = asyncio.get_running_loop().time()
        if check.kind in (CheckKind.LOG, CheckKind.NOTIFY):
            waiter = self._log_match if check.kind is CheckKind.LOG else self._notify_ready
            self.reason = f"waiting for {check.describe()}"
            try:
                async with asyncio.timeout(check.start_period):   # not wait_for: see probes
                    await asyncio.shield(waiter)
            except TimeoutError:
                return False, (f"{check.describe()} not seen within "
                               f"{check.start_period:g} s (start_period)")
            return True, f"{check.describe()} after {self._since(start):.1f} s"
        return await self._poll_ready(check, start, on_progress)

    async def _poll_ready(self, check: Check, start: float,
                          on_progress: Callable[[str], None]) -> tuple[bool, str]:
        """Poll until an attempt succeeds. As in compose, `start_period` is a grace period:
        failures of attempts that began within it do not count (a success does); after it,
        `retries` failures are tolerated (unset: none), and the next one gives up."""
        attempts = counted = 0
        tolerated = check.retries or 0
        last_detail = ""
        while True:
            attempts += 1
            began = self._since(start)
            ok, detail = await _attempt(check, cwd=self.cwd, env=self.env,
                                        lifeline=self.lifeline)
            if ok:
                return True, f"{check.describe()} {detail} after {self._since(start):.1f} s"
            self.reason = f"{check.describe()}: {detail} (attempt {attempts})"
            if detail != last_detail:
                on_progress(self.reason)
                last_detail = detail
            if began >= check.start_period:
                counted += 1
            if counted > tolerated:
                if check.retries is None:
                    return False, f"{self.reason}; not ready within {check.start_period:g} s"
                return False, (f"{self.reason}; gave up after {attempts} attempts "
                               f"({counted} failed after the {check.start_period:g} s "
                               f"start_period; retries: {check.retries})")
            await asyncio.sleep(check.interval)

    @staticmethod
    def _since(start: float) -> float:
        return asyncio.get_running_loop().time() - start

    # ------------------------------------------------------------------ liveness

    async def watch_liveness(self) -> str:
        """Returns (only) when liveness has failed, with the reason."""
        check = self.liveness
        if check is None:
            await asyncio.get_running_loop().create_future()  # never resolves; cancelled
            raise AssertionError("unreachable")
        allowed = check.retries if check.retries is not None else DEFAULT_LIVENESS_RETRIES
        failures = 0
        # Heartbeats are counted from the start of the run, not from this task's first step:
        # a line the service printed while it was becoming ready counts for the first interval
        # (this task may start after lines that arrived in the same loop iteration).
        seen = 0
        while True:
            await asyncio.sleep(check.interval)
            if check.kind is CheckKind.LOG:
                ok, detail = self._heartbeats > seen, "no matching line"
                seen = self._heartbeats
            else:
                ok, detail = await _attempt(check, cwd=self.cwd, env=self.env,
                                            lifeline=self.lifeline)
            failures = 0 if ok else failures + 1
            if failures > allowed:
                times = "time" if failures == 1 else "times"
                return f"liveness {check.describe()} failed {failures} {times} in a row: {detail}"
