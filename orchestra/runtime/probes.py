"""One attempt of each kind of check: tcp, http, exec (DESIGN §2.4).

Each attempt is a coroutine returning (ok, detail) and is bounded by the check's `timeout`.
Everything runs on the event loop: sockets through asyncio streams, the exec check as a child
process watched by the process backend (`runtime/backends`) — no thread per check. `log` and
`notify` are not polled at all; see `runtime/readiness.py`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import signal
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

from orchestra.config.model import CheckKind
from orchestra.config.model_parts import Check
from orchestra.runtime.backends import for_loop
from orchestra.runtime.groups import signal_group
from orchestra.runtime.lifeline import Lifeline
from orchestra.runtime.spawn import SpawnError, spawn_quiet

Attempt = tuple[bool, str]


async def attempt(check: Check, *, cwd: str, env: Mapping[str, str],
                  lifeline: Lifeline) -> Attempt:
    """Run one attempt of a periodic check; never raises for the service's failures."""
    try:
        match check.kind:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
            # cancellation that races the attempt's end, and the cancelled poller goes on
            case CheckKind.TCP:
                assert check.host is not None and check.port is not None
                async with asyncio.timeout(check.timeout):
                    return await _tcp(check.host, check.port)
            case CheckKind.HTTP:
                assert check.url is not None
                async with asyncio.timeout(check.timeout):
                    return await _http(check.url)
            case CheckKind.EXEC:
                return await _exec(check, cwd, env, lifeline)
    except TimeoutError:
        return False, f"no answer within {check.timeout:g} s"
    except ConnectionRefusedError:
        return False, "connection refused"
    except OSError as exc:
        return False, exc.strerror or str(exc)
    raise ValueError(f"{check.kind} is not a periodic check")


async def _tcp(host: str, port: int) -> Attempt:
    _, writer = await asyncio.open_connection(host, port)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True, "accepted"


def request_head(url: str) -> tuple[str, int, str]:
    """(host, port, request head) for a GET of `url`.

    `Host` is host[:port] alone (an IPv6 address in brackets), never the credentials of
    `http://user:pw@host/`, which go in an `Authorization: Basic` header as a browser sends them.
    """
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if secure else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    shown = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        shown += f":{parts.port}"
    head = f"GET {target} HTTP/1.1\r\nHost: {shown}\r\n"
    if parts.username is not None or parts.password is not None:
        user = unquote(parts.username or "")
        password = unquote(parts.password or "")
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        head += f"Authorization: Basic {token}\r\n"
    head += "User-Agent: orchestra-readiness\r\nConnection: close\r\n\r\n"
    return host, port, head


async def _http(url: str) -> Attempt:
    host, port, head = request_head(url)
    context = None
    if urlsplit(url).scheme == "https":
        import ssl  # only here: a run with no https check has asyncio without TLS (tls.py)

        context = ssl.create_default_context()
    reader, writer = await asyncio.open_connection(host, port, ssl=context)
    try:
        writer.write(head.encode())
        await writer.drain()
        status_line = await reader.readline()
    finally:
        writer.close()
    fields = status_line.split(None, 2)
    if len(fields) < 2 or not (fields[1].isascii() and fields[1].isdigit()):
        return False, "not an HTTP answer"
    status = int(fields[1])
    return 200 <= status < 400, f"answered {status}"


async def _exec(check: Check, cwd: str, env: Mapping[str, str], lifeline: Lifeline) -> Attempt:
    """Run the command in its own process group; killed (with its group) on timeout."""
    try:
        popen = spawn_quiet(check.argv, cwd, env)
    except SpawnError as exc:
        return False, exc.message
    lifeline.track(popen.pid)
    processes = for_loop()
    try:
        exited = await processes.exited(popen.pid, check.timeout)
    finally:
        # The leader is not reaped yet, so its group id is still ours to signal.
        signal_group(popen.pid, signal.SIGKILL)
        lifeline.untrack(popen.pid)
        return_code, _ = processes.reap(popen.pid)
        popen.returncode = return_code
    if not exited:
        return False, f"still running after {check.timeout:g} s; killed"
    return return_code == 0, f"exit {return_code}"
