"""`orchestra attach`, the stack's side: one connection joined to a service's terminal.

After the request (`{"command": "attach", "services": [NAME]}`) is answered
`{"ok": true, "result": {"name": ..., "pid": ...}}`, the connection carries frames
(`control/frames.py`): the terminal's output to the client as it is read, the client's
keystrokes and sizes to the terminal. Any number of clients may be attached to one terminal:
each sees all its output, each may type. The attach ends when the client hangs up (detach:
nothing is stopped), when the service's run ends (its terminal closes: a restarted service has
a new one, to attach to again), when the stack stops, or when the client falls more than
`MAX_BACKLOG` behind; the stack says why in an `end` frame.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable

from orchestra.control import frames
from orchestra.runtime.terminal import Terminal

#: A client whose unread output passes this many bytes is dropped (as a `logs -f` follower).
MAX_BACKLOG = 4 * 1024 * 1024


class _Client:
    """One attached connection, as its terminal's listener."""

    def __init__(self, name: str, writer: asyncio.StreamWriter) -> None:
        self.name = name
        self.writer = writer
        self.over: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def output(self, data: bytes) -> None:
        if self.over.done() or self.writer.is_closing():
            return
        if self.writer.transport.get_write_buffer_size() > MAX_BACKLOG:
            self.finish("too far behind the terminal's output; detached")
            return
        self.writer.write(frames.frame(frames.DATA, data))

    def ended(self) -> None:
        self.finish(f"{self.name} ended; its terminal is closed")

    def finish(self, reason: str) -> None:
        if not self.over.done():
            self.over.set_result(reason)


async def serve(name: str, terminal: Terminal, reader: asyncio.StreamReader,
                writer: asyncio.StreamWriter, stack_ended: Awaitable[object]) -> None:
    """Join the connection to `terminal` until one side ends it."""
    client = _Client(name, writer)
    unsubscribe = terminal.subscribe(client)
    ended: asyncio.Future[object] = asyncio.ensure_future(stack_ended)
    typing: asyncio.Future[object] = asyncio.ensure_future(_read_frames(reader, terminal))
    over: asyncio.Future[object] = client.over   # type: ignore[assignment]
    try:
        await asyncio.wait([over, ended, typing], return_when=asyncio.FIRST_COMPLETED)
        if ended.done() and not client.over.done():
            client.finish("the stack stopped")
        if client.over.done() and not writer.is_closing():
            writer.write(frames.frame(frames.END, client.over.result().encode()))
    finally:
        unsubscribe()
        for task in (ended, typing):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await typing


async def _read_frames(reader: asyncio.StreamReader, terminal: Terminal) -> None:
    """The client's frames, until it hangs up or sends something that is not a frame."""
    decoder = frames.Decoder()
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            return
        try:
            received = decoder.feed(chunk)
        except frames.FrameError:
            return
        for kind, payload in received:
            if kind == frames.DATA:
                terminal.write(payload)
            elif kind == frames.RESIZE and (size := frames.size_of(payload)) is not None:
                terminal.resize(*size)
