"""Connect a child's stdout and stderr pipes to the multiplexer, chunk by chunk.

A `tty: true` service has one output instead, its pseudo-terminal's master, read the same way
as the stream `tty`; what it reads also goes to the clients attached to that terminal
(`runtime/terminal.py`). Once the service and everything it started have closed the slave,
reading the master gives the bytes still buffered, then fails with EIO (Linux) or reads
end-of-file: asyncio's pipe transport takes either as the end of the stream.

asyncio's read-pipe transport hands over whatever one read() returned (up to 256 KiB); the
multiplexer splits lines itself, so there is no 64 KiB readline limit and no per-line work here.
Each transport is registered with the multiplexer, which pauses it while orchestra's own output
is backlogged (the child then blocks on its writes, as under a slow terminal).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from orchestra.output.mux import Multiplexer
from orchestra.runtime.spawn import Child

if TYPE_CHECKING:   # only a `tty: true` service has one (runtime/spawn.py makes it)
    from orchestra.runtime.terminal import Terminal

#: The stream name of a pseudo-terminal's output (stdout and stderr together), in JSON output.
TTY_STREAM = "tty"


class _PipeReader(asyncio.Protocol):
    def __init__(self, mux: Multiplexer, name: str, stream: str,
                 closed: asyncio.Future[None], terminal: Terminal | None) -> None:
        self.mux = mux
        self.name = name
        self.stream = stream
        self.closed = closed
        self.terminal = terminal
        self._unregister: Callable[[], None] = lambda: None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.ReadTransport)
        self._unregister = self.mux.add_reader(transport)

    def data_received(self, data: bytes) -> None:
        self.mux.feed(self.name, self.stream, data)
        if self.terminal is not None:
            self.terminal.output(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._unregister()
        self.mux.close_stream(self.name, self.stream)
        if self.terminal is not None:
            self.terminal.end()
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
        streams = [(TTY_STREAM, child.stdout)] if child.stderr is None else \
            [("stdout", child.stdout), ("stderr", child.stderr)]
        if child.terminal is not None:
            child.terminal.start(loop)
        for stream, pipe in streams:
            closed: asyncio.Future[None] = loop.create_future()
            self._closed.append(closed)
            reader = _PipeReader(mux, name, stream, closed, child.terminal)
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
