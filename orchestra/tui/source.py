"""What the view asks the stack: its instances (with CPU and memory), one instance's log,
and commands (`restart`, `stop`, `start`, `down`), over the control socket.

asyncio rather than the blocking client (`control/client.py`): the view runs on textual's
event loop, so a request is a coroutine that never blocks it and that is cancelled, with its
connection, when the view quits or the selection changes.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass

from orchestra.control import protocol
from orchestra.control.client import ControlError, NotRunning
from orchestra.control.usage import UNKNOWN, Usage, usage_of_groups

#: Longest reply line read: a followed log line may be up to `--max-line` (4 MiB) of text.
MAX_REPLY = 64 * 1024 * 1024
#: Errors that mean "no answer from the stack", shown in the status line.
UNREACHABLE = (NotRunning, ControlError, OSError, TimeoutError, ValueError)


@dataclass(frozen=True, slots=True)
class Instance:
    """One row of the view: what `ps` says of an instance, plus its group's usage."""

    name: str
    service: str
    state: str
    pid: int | None
    uptime: float | None
    restarts: int
    ready: bool
    reason: str
    exit_code: int | None
    cpu_percent: float | None
    rss_bytes: int | None


class CpuMeter:
    """CPU use as a percentage of one core since the previous sample of the same process
    group: `ps` gives the seconds used so far, a live view wants the rate."""

    def __init__(self) -> None:
        self._last: dict[int, tuple[float, float]] = {}   # pid: (cpu seconds, monotonic)

    def percent(self, pid: int | None, cpu_s: float | None, now: float) -> float | None:
        if pid is None or cpu_s is None:
            return None
        before = self._last.get(pid)
        self._last[pid] = (cpu_s, now)
        if before is None or now <= before[1]:
            return None
        return max(0.0, (cpu_s - before[0]) / (now - before[1]) * 100)


async def _connect(path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    try:
        return await asyncio.open_unix_connection(str(path), limit=MAX_REPLY)
    except (FileNotFoundError, ConnectionRefusedError):
        raise NotRunning("no running stack for this project (start it with "
                         "`orchestra up`)") from None


def _reply(line: bytes) -> dict[str, object]:
    if not line:
        raise ControlError("the stack closed the connection")
    message = json.loads(line)
    if not isinstance(message, dict):
        raise ControlError("not a reply of orchestra's")
    if message.get("ok") is False:
        raise ControlError(str(message.get("error")))
    return message


async def ask(path: str, message: Mapping[str, object]) -> object:
    """One request, its result; ControlError with the stack's own message if it refuses."""
    reader, writer = await _connect(path)
    try:
        writer.write(protocol.encode(message))
        await writer.drain()
        return _reply(await reader.readline()).get("result")
    finally:
        writer.close()


async def follow(path: str, name: str, tail: int) -> AsyncIterator[dict[str, object]]:
    """The last `tail` lines of instance `name`, then each new one until the stack ends."""
    reader, writer = await _connect(path)
    try:
        writer.write(protocol.encode({"command": "logs", "services": [name], "tail": tail,
                                      "follow": True}))
        await writer.drain()
        first = _reply(await reader.readline()).get("result")
        for line in first if isinstance(first, list) else []:
            yield line
        while True:
            reply = _reply(await reader.readline())
            line = reply.get("line")
            if isinstance(line, dict):
                yield line
            elif "result" in reply:
                return
    finally:
        writer.close()


async def instances(path: str, meter: CpuMeter, timeout: float = 5.0) -> list[Instance]:
    """Every instance of the stack, with the CPU and memory of its process group."""
    async with asyncio.timeout(timeout):
        rows = await ask(path, {"command": "ps"})
    if not isinstance(rows, list):
        raise ControlError("not a reply of orchestra's")
    usage = await asyncio.to_thread(usage_of_groups, (row.get("pid") for row in rows))
    return list(to_instances(rows, usage, meter, time.monotonic()))


def to_instances(rows: Iterable[dict[str, object]], usage: Mapping[int, Usage],
                 meter: CpuMeter, now: float) -> Iterable[Instance]:
    for row in rows:
        pid = row.get("pid")
        pid = pid if isinstance(pid, int) else None
        used = usage.get(pid, UNKNOWN) if pid is not None else UNKNOWN
        uptime, restarts, code = row.get("uptime"), row.get("restarts"), row.get("exit_code")
        yield Instance(
            name=str(row.get("name")), service=str(row.get("service")),
            state=str(row.get("state")), pid=pid,
            uptime=float(uptime) if isinstance(uptime, int | float) else None,
            restarts=restarts if isinstance(restarts, int) else 0,
            ready=row.get("ready") is True, reason=str(row.get("reason") or ""),
            exit_code=code if isinstance(code, int) else None,
            cpu_percent=meter.percent(pid, used.cpu_s, now), rss_bytes=used.rss_bytes)
