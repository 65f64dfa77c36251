"""What is said on a control socket: JSON lines, one request, one or more replies.

A request is an object with a `command` (`info`, `ps`, `logs`, `restart`, `stop`, `start`,
`down`, `attach`) and its arguments. Every request is answered `{"ok": true, "result": ...}` or
`{"ok": false, "error": "..."}`. `logs` with `"follow": true` answers with the recent lines,
then sends `{"line": {...}}` objects as the services print, and ends with
`{"ok": true, "result": "ended"}` when the stack stops. `attach` names one instance; once
answered, the connection carries frames (`control/frames.py`, `control/attach.py`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

#: The longest request line; longer ones are refused (and the connection closed).
MAX_REQUEST = 64 * 1024
COMMANDS = ("info", "ps", "logs", "restart", "stop", "start", "down", "attach")


class RequestError(ValueError):
    """A request this protocol cannot carry out; the message goes back to the client."""


@dataclass(frozen=True, slots=True)
class Request:
    command: str
    services: tuple[str, ...] = ()
    tail: int | None = None
    follow: bool = False
    timeout: float | None = None


def parse_request(line: bytes) -> Request:
    """One request line → a `Request`, or RequestError saying what is wrong with it."""
    try:
        data = json.loads(line)
    except (ValueError, UnicodeDecodeError, RecursionError):   # [[[[... nested too deep
        raise RequestError("not a JSON object") from None
    if not isinstance(data, dict):
        raise RequestError("not a JSON object")
    command = data.get("command")
    if command not in COMMANDS:
        raise RequestError(f"unknown command {json.dumps(command)[:60]} "
                           f"(expected one of {', '.join(COMMANDS)})")
    services = data.get("services", [])
    if not isinstance(services, list) or not all(isinstance(s, str) for s in services):
        raise RequestError("services: expected a list of names")
    tail = data.get("tail")
    if tail is not None and (not isinstance(tail, int) or isinstance(tail, bool) or tail < 0):
        raise RequestError("tail: expected a number of lines >= 0")
    follow = data.get("follow", False)
    if not isinstance(follow, bool):
        raise RequestError("follow: expected true or false")
    if command == "attach" and len(services) != 1:
        raise RequestError("attach: name one service or instance")
    timeout = data.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float)
                                or not 0 <= timeout < 1e9):
        raise RequestError("timeout: expected a number of seconds >= 0")
    return Request(command, tuple(services), tail, follow,
                   None if timeout is None else float(timeout))


def encode(message: Mapping[str, object]) -> bytes:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def ok(result: object) -> bytes:
    return encode({"ok": True, "result": result})


def error(message: str) -> bytes:
    return encode({"ok": False, "error": message})
