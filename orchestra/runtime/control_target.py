"""What a running stack answers on its control socket: the runtime side of `control/server`.

Instances are named as in the output (`web`, or `web.1`, `web.2`); a request may name a
service (all its instances), an instance, or a glob (`web.*`); a name that matches nothing is
an error naming it, and nothing is done.
"""

from __future__ import annotations

import asyncio
import fnmatch
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from orchestra.control.protocol import RequestError
from orchestra.runtime.logbook import Line, Logbook

if TYPE_CHECKING:
    from orchestra.runtime.orchestrator import Orchestrator
    from orchestra.runtime.terminal import Terminal


class StackControl:
    def __init__(self, orchestrator: Orchestrator, logbook: Logbook, project: str) -> None:
        self.orchestrator = orchestrator
        self.logbook = logbook
        self.project = project
        self._ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def info(self) -> dict[str, object]:
        spec = self.orchestrator.plan.spec
        return {"pid": os.getpid(), "project": self.project, "config": str(spec.path)}

    def select(self, patterns: Sequence[str]) -> list[str]:
        """Instance names for `patterns` (all instances when there are none), in plan order."""
        runners = self.orchestrator.runners
        if not patterns:
            return list(runners)
        chosen: list[str] = []
        unknown = []
        for pattern in patterns:
            found = [name for name, runner in runners.items()
                     if fnmatch.fnmatchcase(name, pattern)
                     or fnmatch.fnmatchcase(runner.instance.service.name, pattern)]
            if not found:
                unknown.append(pattern)
            chosen.extend(name for name in found if name not in chosen)
        if unknown:
            raise RequestError(f"no such service: {', '.join(unknown)} "
                               f"(known: {', '.join(runners)})")
        return [name for name in runners if name in chosen]

    def ps(self) -> list[dict[str, object]]:
        rows: list[dict[str, object]] = []
        now = time.time()
        for name, runner in self.orchestrator.runners.items():
            child = runner.child
            alive = child is not None and runner.started_at is not None
            facts = runner.facts
            status = facts.exit_status
            rows.append({
                "name": name,
                "service": runner.instance.service.name,
                "state": facts.state.value,
                "pid": child.pid if child is not None else None,
                "uptime": round(now - runner.started_at, 3) if alive and runner.started_at
                else None,
                "restarts": facts.restarts,
                "ready": facts.ready,
                "reason": ("stopped on request (orchestra stop)"
                           if facts.stopped_on_request and runner.final
                           else facts.ready_reason),
                "exit_code": status.code if status is not None else None,
                "port": runner.instance.port,
            })
        return rows

    def logs(self, names: Sequence[str], tail: int | None) -> list[Line]:
        return self.logbook.lines(names, tail)

    def follow(self, names: Sequence[str],
               on_line: Callable[[Line], None]) -> Callable[[], None]:
        return self.logbook.follow(names, on_line)

    def ended(self) -> asyncio.Future[None]:
        return self._ended

    def end(self) -> None:
        if not self._ended.done():
            self._ended.set_result(None)

    async def restart(self, names: Sequence[str]) -> list[str]:
        """The named instances, and (as compose does for an explicit restart) every instance
        of a service that depends on one of theirs with `restart: true`."""
        from orchestra.plan import restart_with_dependents

        runners = self.orchestrator.runners
        services = {runners[name].instance.service.name for name in names}
        also = set(restart_with_dependents(self.orchestrator.plan, sorted(services))) - services
        chosen = [*names, *(n for n, r in runners.items()
                            if r.instance.service.name in also and n not in names)]
        self._refuse_unmet_dependencies(chosen)
        return await self._refused_while_stopping(self.orchestrator.restart_instances, chosen)

    async def stop(self, names: Sequence[str]) -> list[str]:
        return await self._refused_while_stopping(self.orchestrator.stop_instances, names)

    async def start(self, names: Sequence[str]) -> list[str]:
        self._refuse_unmet_dependencies(names)
        return await self._refused_while_stopping(self.orchestrator.start_instances, names)

    def _refuse_unmet_dependencies(self, names: Sequence[str]) -> None:
        """Running these again would only skip one of them, which ends the stack (see
        runtime/unmet.py): refuse, and say what to restart along with it."""
        from orchestra.runtime.unmet import unmet_dependency

        runners = self.orchestrator.runners
        unmet = unmet_dependency(runners, names)
        if unmet is not None:
            services = dict.fromkeys([unmet.dependency,
                                      *(runners[n].instance.service.name for n in names)])
            raise RequestError(f"{unmet.describe()}; restart them together: "
                               f"`orchestra restart {' '.join(services)}`")

    @staticmethod
    async def _refused_while_stopping(
            action: Callable[[list[str]], Awaitable[list[str]]],
            names: Sequence[str]) -> list[str]:
        from orchestra.runtime.control_requests import StoppingError

        try:
            return await action(list(names))
        except StoppingError as exc:
            raise RequestError(str(exc)) from None

    def down(self, timeout: float | None) -> None:
        self.orchestrator.down(timeout)

    def terminal(self, patterns: Sequence[str]) -> tuple[str, int, Terminal]:
        """The terminal of the one instance `patterns` names, with its name and pid."""
        names = self.select(patterns)
        if len(names) != 1:
            raise RequestError(f"{', '.join(patterns)} names {len(names)} instances "
                               f"({', '.join(names)}); attach to one of them")
        name = names[0]
        runner = self.orchestrator.runners[name]
        service = runner.instance.service
        if not service.tty:
            raise RequestError(f"{name} has no terminal; set `tty: true` for it in the config "
                               f"(or start the stack with `--tty {service.name}`) to attach")
        child = runner.child
        if child is None or child.terminal is None or child.terminal.closed:
            raise RequestError(f"{name} is not running ({runner.state.value}); "
                               "there is no terminal to attach to")
        return name, child.pid, child.terminal
