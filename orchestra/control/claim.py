"""Take a project's control socket before anything starts, or say who has it.

Kept free of asyncio: `up` claims the socket before the event loop exists, so a second `up`
of a running project is refused having started nothing. A socket that nobody answers
belongs to an orchestra that died (SIGKILL) and is replaced.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket

from orchestra.errors import OrchestraError


class AlreadyRunning(OrchestraError):
    """Another orchestra serves this project's socket."""

    def __init__(self, path: str, pid: object) -> None:
        super().__init__(f"this project is already running (orchestra pid {pid}); see it with "
                         "`orchestra ps`, stop it with `orchestra down`, or give this one "
                         "another --project-name to run a second stack beside it")
        self.path = path
        self.pid = pid


def claim(path: str) -> socket.socket:
    """A listening socket at `path`; replaces a stale one, refuses a live one."""
    if os.path.lexists(path):
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.settimeout(2.0)
            probe.connect(path)
        except (ConnectionRefusedError, FileNotFoundError):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)   # its orchestra died without removing it
        except OSError:   # a full backlog, a timeout: someone is there, busy
            probe.close()
            raise AlreadyRunning(path, "unknown") from None
        else:
            raise AlreadyRunning(path, _ask_pid(probe))
        finally:
            probe.close()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)   # not inheritable (PEP 446)
    previous = os.umask(0o177)   # created 0600: no moment when others could connect
    try:
        listener.bind(path)
    except OSError as exc:
        listener.close()
        if exc.errno == errno.EADDRINUSE:   # another up claimed it since the probe
            raise AlreadyRunning(path, "unknown") from None
        raise
    finally:
        os.umask(previous)
    listener.listen(16)
    listener.setblocking(False)
    return listener


def _ask_pid(probe: socket.socket) -> object:
    import json  # only when the project is running already

    from orchestra.control import protocol

    try:
        probe.sendall(protocol.encode({"command": "info"}))
        reply = probe.makefile("rb").readline(protocol.MAX_REQUEST)
        return json.loads(reply)["result"]["pid"]
    except (OSError, ValueError, KeyError, TypeError):
        return "unknown"
