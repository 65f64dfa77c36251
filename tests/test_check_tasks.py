"""Every task a run starts ends with that run: checks do not outlive the process they watch."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.orch import Project
from helpers.readiness import code, free_port

from orchestra.config.model import CheckKind
from orchestra.config.model_parts import Check
from orchestra.runtime import probes
from orchestra.runtime.lifeline import Lifeline
from orchestra.runtime.tasks import end_task


class CountingServer:
    """A TCP server in a thread that accepts, notes the time and closes each connection."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.times: list[float] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.times.append(time.time())
            conn.close()

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self._thread.join(5)


@pytest.fixture
def server() -> Iterator[CountingServer]:
    srv = CountingServer()
    yield srv
    srv.close()


def test_end_task_ends_a_task_that_swallows_cancellations() -> None:
    """What 3.11's wait_for can do to a poller: it goes on after a cancel. end_task cancels
    again until the task has ended, and does not swallow its caller's own cancellation."""
    async def stubborn(swallow: int) -> None:
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                swallow -= 1
                if swallow < 0:
                    raise

    async def main() -> tuple[bool, bool, bool]:
        task = asyncio.create_task(stubborn(2))
        await asyncio.sleep(0)
        await asyncio.wait_for(end_task(task), 5)
        other = asyncio.create_task(stubborn(2))
        await asyncio.sleep(0)
        ender = asyncio.create_task(end_task(other))
        await asyncio.sleep(0)
        ender.cancel()
        try:
            await asyncio.wait_for(ender, 5)
        except asyncio.CancelledError:
            return task.cancelled(), other.cancelled(), True
        return task.cancelled(), other.cancelled(), False

    assert asyncio.run(main()) == (True, True, True)


def test_a_cancelled_attempt_never_returns_a_result(server: CountingServer) -> None:
    """Cancelled at every possible step, an attempt ends cancelled: Python 3.11's `wait_for`
    returned the attempt's result instead when the cancellation raced its completion, and the
    check loop then went on polling for a run that was over."""
    check = Check(kind=CheckKind.TCP, host="127.0.0.1", port=server.port, timeout=1.0)

    async def cancelled_after(steps: int) -> str:
        task = asyncio.create_task(probes.attempt(check, cwd=Path("/"), env={},
                                                  lifeline=Lifeline()))
        for _ in range(steps):
            await asyncio.sleep(0)
        if not task.cancel():
            return "finished first"
        try:
            await task
        except asyncio.CancelledError:
            return "cancelled"
        return "swallowed"

    async def main() -> list[str]:
        return [await cancelled_after(steps) for steps in range(40) for _ in range(3)]

    outcomes = asyncio.run(main())
    assert "swallowed" not in outcomes, outcomes
    assert "cancelled" in outcomes and "finished first" in outcomes, outcomes


FLAPPY = """
    import os, socket, time
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", PORT))
    server.listen(64)
    count, end = 0, time.time() + 0.3
    while True:
        conn, _ = server.accept()
        conn.recv(4096)
        count += 1
        if time.time() >= end:
            # die with a check's request unanswered: its answer (end of file) and the exit
            # arrive together, the race a check task must not survive
            print("connections", count, flush=True)
            os._exit(1)
        conn.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 0\\r\\n\\r\\n")
        conn.close()
"""


def test_checks_of_an_ended_run_do_not_reach_the_next(project: Project) -> None:
    """A flapping service with fast checks: the connections per run stay level, and no run
    is ended by the liveness check of an earlier one (before it was even ready)."""
    runs = 20
    port = free_port()
    project.yaml({"flappy": {
        "command": code(FLAPPY, PORT=port),
        "readiness": {"http": f"http://127.0.0.1:{port}/", "interval": "10ms"},
        "liveness": {"http": f"http://127.0.0.1:{port}/", "interval": "10ms"},
        "restart": {"policy": "on-failure", "max_restarts": runs - 1, "backoff": 0},
    }})
    result = project.run("--no-timestamps", "--no-color", timeout=60)
    assert "liveness" not in result.text, result.dump()   # no run ended by a check
    counts = [int(line.split()[1]) for line in result.of("flappy")]
    assert len(counts) == runs, result.dump()
    first, last = sum(counts[:5]) / 5, sum(counts[-5:]) / 5
    assert last <= first * 1.5 + 10, f"connections per run grew: {counts}"
