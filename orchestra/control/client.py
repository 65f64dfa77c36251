"""Ask a running stack over its control socket: plain blocking sockets, no event loop.

Used by `orchestra ps`, `logs`, `restart`, `stop` and `down` in another process than the
stack's; each call is one connection.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator, Mapping

from orchestra.control import protocol
from orchestra.errors import OrchestraError


class NotRunning(OrchestraError):
    """No stack answers at the project's socket."""


class ControlError(OrchestraError):
    """The stack answered with an error."""


def connected(path: str, timeout: float | None = None) -> socket.socket:
    """A socket connected to the stack's control socket at `path`; NotRunning when nothing
    serves it. Shared by requests (`Connection`) and `attach` (control/attach_client.py)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except (FileNotFoundError, ConnectionRefusedError):
        sock.close()
        raise NotRunning("no running stack for this project (start it with "
                         "`orchestra up`)") from None
    return sock


def decode_reply(line: bytes) -> dict[str, object]:
    """One reply line of the stack as a mapping; ControlError for a line that is not one of
    orchestra's, or that says the request failed."""
    try:
        message = json.loads(line)
    except ValueError:
        raise ControlError("not a reply of orchestra's") from None
    if not isinstance(message, dict):
        raise ControlError("not a reply of orchestra's")
    if message.get("ok") is False:
        raise ControlError(str(message.get("error")))
    return message


class Connection:
    def __init__(self, path: str, timeout: float | None = 30.0) -> None:
        self.path = path
        self._sock = connected(path, timeout)
        self._lines = self._sock.makefile("rb")

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._lines.close()
        self._sock.close()

    def send(self, request: Mapping[str, object]) -> None:
        self._sock.sendall(protocol.encode(request))

    def receive(self) -> dict[str, object]:
        try:
            line = self._lines.readline()
        except TimeoutError:
            raise ControlError("the stack did not answer within 30 s") from None
        except OSError as exc:
            raise ControlError(f"the connection to the stack failed: {exc}") from None
        if not line:
            raise ControlError("the stack closed the connection")
        return decode_reply(line)


def socket_of(project: str) -> str:
    """The project's socket path; an OrchestraError when there is no usable folder."""
    from orchestra.control.paths import ControlPathError, socket_path

    try:
        return socket_path(project)
    except ControlPathError as exc:
        raise NotRunning(str(exc)) from None


def request(path: str, message: Mapping[str, object], timeout: float | None = 30.0) -> object:
    """Send one request; its result, or ControlError with the stack's message."""
    with Connection(path, timeout) as connection:
        connection.send(message)
        return connection.receive().get("result")


def follow(path: str, message: Mapping[str, object]) -> Iterator[dict[str, object]]:
    """The recent lines, then every new one, until the stack ends (`logs -f`)."""
    with Connection(path, timeout=None) as connection:
        connection.send({**message, "follow": True})
        first = connection.receive().get("result")
        yield from first if isinstance(first, list) else []
        while True:
            reply = connection.receive()
            line = reply.get("line")
            if isinstance(line, dict):
                yield line
            elif "result" in reply:
                return
