"""The control socket of a run, served from its first client on.

`up` claims the socket (bound and listening, `control/claim.py`) before anything starts, so a
second `up` of the project is refused at once. Serving it needs the protocol, JSON and the
server: ~2 ms of imports on the way to the first line, for a socket that most runs are never
asked anything on. So the loop watches the listening socket, and the first connection
imports and starts the server (`control/server.py`), which then accepts it: a client that
connects before that waits in the socket's backlog, as it would for a busy server.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchestra.control.server import ControlServer
    from orchestra.runtime.control_target import StackControl
    from orchestra.runtime.logbook import Logbook
    from orchestra.runtime.orchestrator import Orchestrator


class ControlSocket:
    def __init__(self, project: str, path: str, listener: socket.socket,
                 orchestrator: Orchestrator, logbook: Logbook) -> None:
        self._project = project
        self._path = path
        self._listener = listener
        self._orchestrator = orchestrator
        self._logbook = logbook
        self._inode: int | None = None   # the file claimed: only it is removed at the end
        with contextlib.suppress(OSError):
            self._inode = os.stat(path).st_ino
        self._target: StackControl | None = None
        self._server: ControlServer | None = None
        self._starting: asyncio.Task[None] | None = None
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(listener.fileno(), self._first_client)

    def _first_client(self) -> None:
        from orchestra.control.server import ControlServer
        from orchestra.runtime.control_target import StackControl

        self._loop.remove_reader(self._listener.fileno())
        self._target = StackControl(self._orchestrator, self._logbook, self._project)
        self._server = ControlServer(self._path, self._target, self._listener, self._inode)
        self._starting = self._loop.create_task(self._server.start())

    async def close(self) -> None:
        """The run is over: end the followers' streams, stop listening, remove the socket."""
        if self._server is None:
            self._loop.remove_reader(self._listener.fileno())
            self._listener.close()
            with contextlib.suppress(OSError):   # unless another `up` has the path by now
                if self._inode is not None and os.stat(self._path).st_ino == self._inode:
                    os.unlink(self._path)
            return
        assert self._target is not None and self._starting is not None
        await self._starting
        self._target.end()
        await self._server.close()
