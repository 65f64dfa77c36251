"""Back-pressure: the services' pipes stop being read while a writer's backlog is over its bound.

Each writer thread (stdout's, `output/writer.py`; a detached stack's log files,
`runtime/logfiles.py`) says when its backlog passes its bound and when it has fallen below half
of it; this module pauses the read transports of the services' pipes while any of them is
over, and resumes them when none is. A paused pipe fills, and the service then blocks on its
own write, as it would under a slow terminal: nothing is dropped, and orchestra's memory stays
bounded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class ReaderThrottle:
    """The read transports to pause while output is held back, and who holds it back."""

    def __init__(self) -> None:
        self._readers: set[asyncio.ReadTransport] = set()
        self._holders: set[str] = set()

    @property
    def holding(self) -> bool:
        """True while a backlog is over its bound and the registered readers are paused."""
        return bool(self._holders)

    def add(self, transport: asyncio.ReadTransport) -> Callable[[], None]:
        """A service's pipe, paused at once if output is held back now; returns unregister."""
        self._readers.add(transport)
        if self._holders:
            transport.pause_reading()
        return lambda: self._readers.discard(transport)

    def hold(self, over: bool, holder: str) -> None:
        """`holder`'s backlog passed its bound (`over`), or fell below half of it (or its
        output broke and is discarded from now on). The readers are paused while any holder
        is over, and resumed when the last one is not."""
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
