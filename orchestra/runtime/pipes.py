"""Connect a child's stdout and stderr pipes to the multiplexer, chunk by chunk.

asyncio's read-pipe transport hands over whatever one read() returned (up to 256 KiB); the
multiplexer splits lines itself, so there is no 64 KiB readline limit and no per-line work here.
"""

from __future__ import annotations

import asyncio
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

    def data_received(self, data: bytes) -> None:
        self.mux.feed(self.name, self.stream, data)

    def connection_lost(self, exc: Exception | None) -> None:
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

    async def drained(self, timeout: float) -> bool:
        """Wait for end-of-file on both; on timeout stop reading and return False."""
        _, pending = await asyncio.wait(self._closed, timeout=timeout)
        if pending:
            for transport in self._transports:
                transport.close()
            await asyncio.wait(self._closed, timeout=timeout)
        return not pending
