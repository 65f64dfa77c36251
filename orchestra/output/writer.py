"""Writing without ever blocking the event loop (DESIGN §3.3): one queued-writer thread.

A write to stdout blocks while its reader does not read (a paused terminal, tmux copy mode, a
stuck log shipper), and a write to a file while its disk does not take it (a full NFS server,
a USB stick). Made on the event loop, such a write would stop everything else with it:
signals, timers, readiness checks. Making stdout non-blocking is not an option either: its
file description is shared with the processes around orchestra (the shell, `run --with`'s
command), which expect it blocking.

So the loop hands what is to be written to a `QueuedWriter`, whose thread makes the blocking
writes: the multiplexer's batches for stdout (`write_all` to its fd), and a detached stack's
lines for its log files (`runtime/logfiles.py`, a write per file with rotation). The write
step is the only difference; the queue, its bound and the hand-shake with the loop are this
one class. There is one such thread per writer, not one per service; it touches no runtime
state, only its queue. Memory stays bounded: when more than `bound` bytes wait,
`on_pressure(True)` asks the owner to stop reading the services' pipes (they then block on
their own writes, as under a slow terminal), and `on_pressure(False)` comes once half has
left. Nothing is dropped: `close` writes everything queued before it returns. A write step
that raises OSError ends the writing: `on_error` is called once, on the loop, and what is
queued after it is discarded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import threading
from collections import deque
from collections.abc import Callable

#: After `give_up`, how long the end of the run still waits for lines already being written.
GIVE_UP_WAIT = 1.0


def write_all(fd: int, data: bytes) -> None:
    """Write all of `data`, looping over partial writes; raises OSError when writing fails.

    A non-blocking fd (stdout may be shared with a program that set O_NONBLOCK on the
    terminal) waits for room instead of failing."""
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except InterruptedError:
            continue
        except BlockingIOError:
            poller = select.poll()
            poller.register(fd, select.POLLOUT)
            poller.poll()
            continue
        view = view[written:]


def to_fd(fd: int) -> Callable[[list[tuple[str, bytes]]], None]:
    """The write step for one fd (stdout): a batch, keys aside, in one `write_all`."""
    def write(batch: list[tuple[str, bytes]]) -> None:
        write_all(fd, b"".join(data for _, data in batch))
    return write


class QueuedWriter:
    """Blocking writes in one thread, fed from the event loop without blocking it.

    `write` is the write step, called in the thread with every `(key, data)` queued since its
    last call, in order; it raises OSError when writing failed for good. The key is the
    owner's, for the step to tell its destinations apart (an instance's log file; stdout
    has one destination and no key). `name` names the thread.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop,
                 write: Callable[[list[tuple[str, bytes]]], None], *, name: str, bound: int,
                 on_pressure: Callable[[bool], None],
                 on_error: Callable[[OSError], None] = lambda error: None) -> None:
        self._loop = loop
        self._write = write
        self._name = name
        self._bound = bound
        self._on_pressure = on_pressure
        self._on_error = on_error
        self._cond = threading.Condition()
        self._queue: deque[tuple[str, bytes]] = deque()
        self._queued = 0             # bytes in the queue, not yet taken by the thread
        self._pending = 0            # bytes queued or being written (under the lock)
        self._closing = False
        self._failed = False
        self._error: OSError | None = None
        self._watched = False        # the loop wants to hear when the backlog shrinks
        self._pressed = False        # loop side: readers are paused
        self._idle: list[asyncio.Future[None]] = []
        self._thread: threading.Thread | None = None
        self._given_up = False       # `close` no longer waits for a reader that does not read

    @property
    def error(self) -> OSError | None:
        """The write error that ended the writing, if any (also one while closing)."""
        return self._error

    def put(self, data: bytes, key: str = "") -> None:
        """Queue `data` for `key`; returns at once. Called on the loop."""
        with self._cond:
            if self._failed:
                return
            self._queue.append((key, data))
            self._queued += len(data)
            self._pending += len(data)
            over = self._pending > self._bound
            if over:
                self._watched = True
            self._cond.notify()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()
        if over and not self._pressed:
            self._pressed = True
            self._on_pressure(True)

    async def written(self) -> None:
        """Wait until everything queued so far has been written (or writing failed)."""
        with self._cond:
            if self._pending == 0 or self._failed:
                return
            self._watched = True
        waiter = self._loop.create_future()
        self._idle.append(waiter)
        self._relieve()      # the thread may have emptied the queue before `_watched` was set
        await waiter

    def give_up(self) -> None:
        """Drop what waits to be written, and let `close` wait only `GIVE_UP_WAIT` s for the
        thread: a second Ctrl-C must end orchestra even if its reader never reads again.
        The thread may stay blocked in its write; it is a daemon and dies with orchestra."""
        with self._cond:
            self._pending -= self._queued
            self._queued = 0
            self._queue.clear()
            self._given_up = True
        self._relieve()

    def close(self) -> None:
        """Write what is queued, blocking until it is written, and end the thread (after
        `give_up`, waiting `GIVE_UP_WAIT` s at most)."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(GIVE_UP_WAIT if self._given_up else None)
            self._thread = None

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return
                batch, size = list(self._queue), self._queued
                self._queue.clear()
                self._queued = 0
            error: OSError | None = None
            try:
                self._write(batch)
            except OSError as exc:
                error = exc
            with self._cond:
                if error is not None:
                    self._failed, self._error = True, error
                    self._queue.clear()
                    self._queued = self._pending = 0
                else:
                    self._pending -= size
                tell = error is not None or (self._watched
                                             and self._pending <= self._bound // 2)
                closing = self._closing
            if tell and not closing:   # when closing, the owner reads `error` after `close`
                with contextlib.suppress(RuntimeError):   # the loop is already closed
                    self._loop.call_soon_threadsafe(self._relieve, error)
            if error is not None:
                return

    # ------------------------------------------------------------------ back on the loop

    def _relieve(self, error: OSError | None = None) -> None:
        with self._cond:
            pending, failed = self._pending, self._failed
        if error is not None:
            self._on_error(error)
        if self._pressed and pending <= self._bound // 2:
            self._pressed = False
            self._on_pressure(False)
        if pending == 0 or failed:
            idle, self._idle = self._idle, []
            for waiter in idle:
                if not waiter.done():
                    waiter.set_result(None)
        with self._cond:   # a later `put` over the bound sets it again itself
            self._watched = self._pressed or bool(self._idle)
