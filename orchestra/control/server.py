"""The control socket of a running stack, served from the runtime's one event loop.

Only the socket's owner may talk to it: the folder is 0700, the socket 0600, and every peer's
uid is checked (`control/peers.py`: SO_PEERCRED on Linux, LOCAL_PEERCRED on macOS and the
BSDs) before its first request is read. A malformed, oversized or
unknown request gets an error reply; nothing a client sends or fails to read can disturb the
services: replies are queued on the client's own transport, and a follower that stops reading
is dropped once its backlog is over a bound, never waited for.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from orchestra.control import protocol
from orchestra.control.claim import claim
from orchestra.control.peers import peer_uid
from orchestra.control.protocol import Request, RequestError

if TYPE_CHECKING:
    from orchestra.runtime.terminal import Terminal

#: A follower whose unread replies pass this many bytes is dropped.
MAX_BACKLOG = 4 * 1024 * 1024


class Stack(Protocol):
    """What the runtime offers the control plane (see `runtime/control_target.py`)."""

    def info(self) -> dict[str, object]: ...

    def select(self, patterns: Sequence[str]) -> list[str]: ...

    def ps(self) -> list[dict[str, object]]: ...

    def logs(self, names: Sequence[str], tail: int | None) -> list[dict[str, object]]: ...

    def follow(self, names: Sequence[str],
               on_line: Callable[[dict[str, object]], None]) -> Callable[[], None]: ...

    def ended(self) -> Awaitable[object]: ...

    async def restart(self, names: Sequence[str]) -> list[str]: ...

    async def stop(self, names: Sequence[str]) -> list[str]: ...

    async def start(self, names: Sequence[str]) -> list[str]: ...

    def down(self, timeout: float | None) -> None: ...

    def terminal(self, patterns: Sequence[str]) -> tuple[str, int, Terminal]: ...



class ControlServer:
    def __init__(self, path: str, stack: Stack, listener: socket.socket | None = None,
                 inode: int | None = None) -> None:
        """`inode`: the socket file's, when `listener` was bound before (by `claim`)."""
        self.path = path
        self.stack = stack
        self._listener = listener
        self._inode = inode
        self._server: asyncio.AbstractServer | None = None
        self._clients: set[asyncio.Task[None]] = set()

    def claim(self) -> None:
        """Take the socket now (before any service starts), so a second `up` fails early."""
        self._listener = claim(self.path)

    async def start(self) -> None:
        if self._listener is None:
            self.claim()
        if self._inode is None:
            with contextlib.suppress(OSError):
                self._inode = os.stat(self.path).st_ino
        self._server = await asyncio.start_unix_server(
            self._serve, sock=self._listener, limit=protocol.MAX_REQUEST)

    async def close(self) -> None:
        """Stop listening and remove the socket at once (a new `up` may claim the project
        while the last replies go out: its socket must not be the one removed); let the
        replies that the end completes (`down`, followers) go out, then hang up on the rest."""
        if self._server is not None:
            self._server.close()
        self._unlink_own_socket()
        if self._clients:
            await asyncio.wait(list(self._clients), timeout=1.0)
        for task in list(self._clients):
            task.cancel()
        if self._clients:
            await asyncio.gather(*self._clients, return_exceptions=True)

    def _unlink_own_socket(self) -> None:
        """Remove the socket file only if it is still the one this server bound."""
        with contextlib.suppress(OSError):
            if self._inode is not None and os.stat(self.path).st_ino == self._inode:
                os.unlink(self.path)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        try:
            sock = writer.get_extra_info("socket")
            uid = peer_uid(sock) if sock is not None else None
            if uid is not None and uid != os.getuid():
                writer.write(protocol.error("permission denied: not the owner of this stack"))
                return
            while True:
                try:
                    line = await reader.readline()
                except (ValueError, asyncio.LimitOverrunError):
                    writer.write(protocol.error(
                        f"request too long (at most {protocol.MAX_REQUEST} bytes)"))
                    return
                if not line:
                    return
                await self._answer(line, reader, writer)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._clients.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    async def _answer(self, line: bytes, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        try:
            request = protocol.parse_request(line)
            if request.command == "logs" and request.follow:
                await self._follow(request, reader, writer)
                return
            if request.command == "attach":
                await self._attach(request, reader, writer)
                return
            result = await self._run(request)
        except RequestError as exc:
            writer.write(protocol.error(str(exc)))
            return
        except Exception as exc:   # a bug must cost one reply, never the connection's task
            writer.write(protocol.error(f"internal error: {exc!r}"))
            return
        writer.write(protocol.ok(result))

    async def _run(self, request: Request) -> object:
        stack = self.stack
        match request.command:
            case "info":
                return stack.info()
            case "ps":
                return stack.ps()
            case "logs":
                return stack.logs(stack.select(request.services), request.tail)
            case "restart":
                return await stack.restart(stack.select(request.services))
            case "stop":
                return await stack.stop(stack.select(request.services))
            case "start":
                return await stack.start(stack.select(request.services))
            case "down":
                stack.down(request.timeout)
                await asyncio.shield(stack.ended())   # the reply says it is over
                return "stopped"
        raise RequestError(f"unknown command {request.command}")

    async def _attach(self, request: Request, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        """Frames between the client and a service's terminal, then hang up."""
        from orchestra.control.attach import serve

        name, pid, terminal = self.stack.terminal(request.services)
        writer.write(protocol.ok({"name": name, "pid": pid}))
        await serve(name, terminal, reader, writer, asyncio.shield(self.stack.ended()))
        writer.close()

    async def _follow(self, request: Request, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        """The recent lines, then every new one, until the stack ends or the client goes."""
        names = self.stack.select(request.services)
        writer.write(protocol.ok(self.stack.logs(names, request.tail)))
        dropped = asyncio.get_running_loop().create_future()

        def on_line(line: dict[str, object]) -> None:
            if writer.is_closing() or dropped.done():
                return
            if writer.transport.get_write_buffer_size() > MAX_BACKLOG:
                writer.write(protocol.error("too far behind; stopped following"))
                dropped.set_result(None)
                writer.transport.abort()   # its backlog is freed now, not at shutdown
                return
            writer.write(protocol.encode({"line": line}))

        unsubscribe = self.stack.follow(names, on_line)
        ended = asyncio.ensure_future(asyncio.shield(self.stack.ended()))  # shared: shielded
        gone = asyncio.ensure_future(reader.read(1))   # the client hung up (or spoke: ignored)
        try:
            await asyncio.wait([ended, dropped, gone], return_when=asyncio.FIRST_COMPLETED)
            if ended.done() and not dropped.done():
                writer.write(protocol.ok("ended"))
        finally:
            unsubscribe()
            for waiter in (ended, gone):
                waiter.cancel()
            # awaited, not only cancelled: the next request's readline must not find the
            # reader still taken by `gone` (asyncio refuses two readers at once)
            await asyncio.gather(ended, gone, return_exceptions=True)
