"""macOS, FreeBSD, OpenBSD: one kqueue in the event loop, an EVFILT_PROC event per pid.

Written against Python's documented `select.kqueue` API: each watched pid gets a one-shot
`NOTE_EXIT` event; the kqueue's own descriptor is readable while events are pending, so it is
registered in the event loop like any other reader (no thread per child). A pid that has
already exited cannot be registered (ESRCH): its exit is reported at once. The status is read
with `waitid(WNOWAIT)` where the platform has it (`waiting.ChildStatuses`). Unlike SIGCHLD,
`NOTE_EXIT` works for any process the user may signal, so `gone` needs no polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
from collections.abc import Callable
from typing import Any

from orchestra.runtime.backends import ProcessBackend, Status
from orchestra.runtime.backends.waiting import HAS_WAITID, ChildStatuses

_select: Any = select   # kqueue and its constants exist on the BSDs and macOS only
BATCH = 64


class KqueueBackend(ProcessBackend):
    name = "kqueue"
    keeps_zombie = HAS_WAITID

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self._kq = _select.kqueue()
        self._statuses = ChildStatuses()
        self._callbacks: dict[int, list[Callable[[], None]]] = {}
        loop.add_reader(self._kq.fileno(), self._drain)

    def _event(self, pid: int, flags: int) -> Any:
        return _select.kevent(pid, filter=_select.KQ_FILTER_PROC, flags=flags,
                              fflags=_select.KQ_NOTE_EXIT)

    def _add(self, pid: int, callback: Callable[[], None]) -> None:
        self._callbacks.setdefault(pid, []).append(callback)
        try:
            self._kq.control([self._event(pid, _select.KQ_EV_ADD | _select.KQ_EV_ONESHOT)],
                             0, 0)
        except ProcessLookupError:   # exited already (a zombie, or gone)
            self._loop.call_soon(self._fire, pid)

    def _remove(self, pid: int, callback: Callable[[], None] | None = None) -> None:
        callbacks = self._callbacks.get(pid, [])
        if callback is None:
            callbacks.clear()
        elif callback in callbacks:
            callbacks.remove(callback)
        if not callbacks:
            self._callbacks.pop(pid, None)
            with contextlib.suppress(OSError):   # fired already, or the process is gone
                self._kq.control([self._event(pid, _select.KQ_EV_DELETE)], 0, 0)

    def _drain(self) -> None:
        while True:
            events = self._kq.control(None, BATCH, 0)
            for event in events:
                self._fire(int(event.ident))
            if len(events) < BATCH:
                return

    def _fire(self, pid: int) -> None:
        for callback in self._callbacks.pop(pid, []):
            callback()

    def watch(self, pid: int, on_exit: Callable[[], None]) -> None:
        self._add(pid, on_exit)
        # A child that exited just before may have been registered as a zombie, whose
        # NOTE_EXIT has passed on some kernels: its status says so, whatever the kernel did.
        if pid in self._callbacks and self._statuses.peek(pid) is not None:
            self._loop.call_soon(self._fire, pid)

    def unwatch(self, pid: int) -> None:
        self._remove(pid)

    def status(self, pid: int) -> Status:
        return self._statuses.status(pid)

    def reap(self, pid: int) -> Status:
        self._remove(pid)
        return self._statuses.reap(pid)

    async def gone(self, pids: list[int], timeout: float) -> bool:
        waiters: dict[int, tuple[asyncio.Future[None], Callable[[], None]]] = {}
        for pid in pids:
            waiter: asyncio.Future[None] = self._loop.create_future()
            resolve = _resolver(waiter)
            waiters[pid] = (waiter, resolve)
            self._add(pid, resolve)
        try:
            if not waiters:
                return True
            _, pending = await asyncio.wait([w for w, _ in waiters.values()], timeout=timeout)
            return not pending
        finally:
            for pid, (_, resolve) in waiters.items():
                self._remove(pid, resolve)


def _resolver(waiter: asyncio.Future[None]) -> Callable[[], None]:
    def resolve() -> None:
        if not waiter.done():
            waiter.set_result(None)
    return resolve
