"""Connect a child's stdout and stderr pipes to the multiplexer, chunk by chunk.

asyncio's read-pipe transport hands over whatever one read() returned (up to 256 KiB); the
multiplexer splits lines itself, so there is no 64 KiB readline limit and no per-line work here.
Each transport is registered with the multiplexer, which pauses it while orchestra's own output
is backlogged (the child then blocks on its writes, as under a slow terminal).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial

from orchestra.output.mux import Multiplexer
from orchestra.runtime.spawn import Child


class _PipeReader(asyncio.Protocol):
    def __init__(self, mux: Multiplexer, name: str, stream: str,
                 closed: asyncio.Future[None]) -> None:
        self.mux = mux
        self.name = name
        self.stream = stream
        self.closed = closed
        self._unregister: Callable[[], None] = lambda: None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.ReadTransport)
        self._unregister = self.mux.add_reader(transport)

    def data_received(self, data: bytes) -> None:
        self.mux.feed(self.name, self.stream, data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._unregister()
        self.mux.close_stream(self.name, self.stream)
        if not self.closed.done():
            self.closed.set_result(None)


def _same(reader: _PipeReader) -> _PipeReader:
    return reader


class Pipes:
    """Both output pipes of one child, read until end-of-file or until closed by us."""

    def __init__(self) -> None:
        self._transports: list[asyncio.BaseTransport] = []
        self._closed: list[asyncio.Future[None]] = []

    async def attach(self, child: Child, name: str, mux: Multiplexer) -> None:
        loop = asyncio.get_running_loop()
        for stream, pipe in (("stdout", child.stdout), ("stderr", child.stderr)):
            closed: asyncio.Future[None] = loop.create_future()
            self._closed.append(closed)
            reader = _PipeReader(mux, name, stream, closed)
            transport, _ = await loop.connect_read_pipe(partial(_same, reader), pipe)
            self._transports.append(transport)

    async def drained(self, timeout: float, mux: Multiplexer) -> bool:
        """Wait for end-of-file on both; on timeout stop reading and return False.

        Time during which the output is backlogged (the pipes are paused) does not count:
        what is left in them is the service's output, still to be shown, not a stray
        process holding the pipe."""
        _, pending = await asyncio.wait(self._closed, timeout=timeout)
        while pending and mux.holding:
            _, pending = await asyncio.wait(self._closed, timeout=timeout)
        if pending:
            for transport in self._transports:
                transport.close()
            await asyncio.wait(self._closed, timeout=timeout)
        return not pending
