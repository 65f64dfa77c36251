"""Back-pressure: the services' pipes stop being read while stdout's backlog is over its bound.

The writer thread (`output/writer.py`) says when its backlog passes the bound and when it has
fallen below half of it; this module pauses and resumes the read transports of the services'
pipes accordingly. A paused pipe fills, and the service then blocks on its own write, as it
would under a slow terminal: nothing is dropped, and orchestra's memory stays bounded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class ReaderThrottle:
    """The read transports to pause while output is held back, and whether it is."""

    def __init__(self) -> None:
        self._readers: set[asyncio.ReadTransport] = set()
        self._holding = False

    @property
    def holding(self) -> bool:
        """True while the backlog is over its bound and the registered readers are paused."""
        return self._holding

    def add(self, transport: asyncio.ReadTransport) -> Callable[[], None]:
        """A service's pipe, paused at once if output is held back now; returns unregister."""
        self._readers.add(transport)
        if self._holding:
            transport.pause_reading()
        return lambda: self._readers.discard(transport)

    def hold(self, over: bool) -> None:
        """Pause every registered reader (`over`: the backlog passed its bound) or resume them
        (it fell below half of it, or the output broke and is discarded from now on)."""
        self._holding = over
        for transport in tuple(self._readers):
            if transport.is_closing():
                continue
            if over:
                transport.pause_reading()
            else:
                transport.resume_reading()
