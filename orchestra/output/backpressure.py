"""Back-pressure: the services' pipes stop being read while a writer's backlog is over its bound.

Each writer thread (stdout's and a detached stack's log files', both `output/writer.py`'s
`QueuedWriter`) says when its backlog passes its bound and when it has fallen below half of
it; `BackPressure` pauses the read transports of the services' pipes while any of them is
over, and resumes them when none is. A paused pipe fills, and the service then blocks on its
own write, as it would under a slow terminal: nothing is dropped, and orchestra's memory stays
bounded.

`BackPressure` is the multiplexer's base class (`output/mux.py`): the runtime registers each
pipe with the multiplexer it feeds, the log files report their backlog to it, and a second
Ctrl-C asks it to stop waiting for stdout; the multiplexer itself only formats and batches.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchestra.output.writer import QueuedWriter

STDOUT = "stdout"   # the holder that stdout's writer is


class BackPressure:
    """The read transports to pause while output is held back, and who holds it back."""

    def __init__(self) -> None:
        self._readers: set[asyncio.ReadTransport] = set()
        self._holders: set[str] = set()
        self._given_up = False     # a second signal: stdout may hold no one
        #: stdout's writer thread, when there is one (set by the multiplexer that owns it)
        self._writer: QueuedWriter | None = None

    @property
    def holding(self) -> bool:
        """True while a backlog is over its bound and the registered readers are paused."""
        return bool(self._holders)

    def add_reader(self, transport: asyncio.ReadTransport) -> Callable[[], None]:
        """A service's pipe, paused at once if output is held back now; returns unregister."""
        self._readers.add(transport)
        if self._holders:
            transport.pause_reading()
        return lambda: self._readers.discard(transport)

    def hold_readers(self, over: bool, holder: str) -> None:
        """`holder`'s backlog passed its bound (`over`), or fell below half of it (or its
        output broke and is discarded from now on). The readers are paused while any holder
        is over (stdout's or a detached stack's log files'), and resumed when the last one
        is not."""
        before = bool(self._holders)
        if over:
            self._holders.add(holder)
        else:
            self._holders.discard(holder)
        if bool(self._holders) == before:
            return
        for transport in tuple(self._readers):
            if transport.is_closing():
                continue
            if over:
                transport.pause_reading()
            else:
                transport.resume_reading()

    def give_up_waiting(self) -> None:
        """A second stop signal: drop the backlog and read the services' pipes again however
        slow stdout is, so neither their end nor orchestra's waits on a stalled reader."""
        self._given_up = True
        if self._writer is not None:
            self._writer.give_up()
        self.hold_readers(False, STDOUT)

    def _stdout_pressure(self, over: bool) -> None:
        """stdout's writer thread says its backlog passed its bound, or fell below half."""
        self.hold_readers(over and not self._given_up, STDOUT)
