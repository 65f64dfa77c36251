"""Process-group operations: signal a group, list its members, wait for them to go away.

While a service's leader is unreaped (a zombie), its pid, and so its process group id, cannot be
reused, which is what makes signalling the group after the leader exited safe. Members are
listed from /proc and awaited through pidfds, so waiting is event-driven, not polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal


def signal_group(pgid: int, signum: int) -> bool:
    """Send `signum` to the group; False when nothing was there (ESRCH) or allowed (EPERM)."""
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        return False
    return True


class _Scan:
    """One read of /proc, shared by every lookup in the same event-loop iteration.

    When many services stop at once, their leaders exit together; one scan per iteration
    instead of one per service keeps shutdown O(processes), not O(services × processes).
    """

    groups: dict[int, list[int]] | None = None

    @classmethod
    def members(cls, pgid: int) -> list[int]:
        if cls.groups is None:
            cls.groups = _read_groups()
            with contextlib.suppress(RuntimeError):  # outside a loop: do not keep it
                asyncio.get_running_loop().call_soon(cls._forget)
                return cls.groups.get(pgid, [])
            groups, cls.groups = cls.groups, None
            return groups.get(pgid, [])
        return cls.groups.get(pgid, [])

    @classmethod
    def _forget(cls) -> None:
        cls.groups = None


def _read_groups() -> dict[int, list[int]]:
    """Process group id → its live (non-zombie) processes.

    Raw os.open/os.read and a split that stops after the fields it needs: this runs on the
    event loop, so it is kept to a fraction of a millisecond for a few hundred processes.
    """
    groups: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not (entry.isascii() and entry.isdigit()):
            continue
        try:
            fd = os.open(f"/proc/{entry}/stat", os.O_RDONLY)
            try:
                data = os.read(fd, 1024)
            finally:
                os.close(fd)
        except OSError:
            continue
        # after "pid (comm)": state ppid pgrp ...
        fields = data.rpartition(b")")[2].split(None, 3)
        if len(fields) > 2 and fields[0] != b"Z":
            groups.setdefault(int(fields[2]), []).append(int(entry))
    return groups


def group_members(pgid: int, exclude: int | None = None) -> list[int]:
    """Live (non-zombie) processes in the group, from /proc."""
    return [pid for pid in _Scan.members(pgid) if pid != exclude]


async def wait_for_exit(pids: list[int], timeout: float) -> bool:
    """Wait until every pid has exited, at most `timeout` seconds; True if they all did."""
    loop = asyncio.get_running_loop()
    waiters: list[asyncio.Future[None]] = []
    fds: list[int] = []
    for pid in pids:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        fds.append(fd)
        waiter: asyncio.Future[None] = loop.create_future()
        loop.add_reader(fd, _resolve, loop, fd, waiter)
        waiters.append(waiter)
    try:
        if not waiters:
            return True
        _, pending = await asyncio.wait(waiters, timeout=timeout)
        return not pending
    finally:
        for fd in fds:
            loop.remove_reader(fd)
            os.close(fd)


def _resolve(loop: asyncio.AbstractEventLoop, fd: int, waiter: asyncio.Future[None]) -> None:
    loop.remove_reader(fd)
    if not waiter.done():
        waiter.set_result(None)


async def empty_group(pgid: int, leader: int, signum: int | None,
                      timeout: float) -> tuple[int, bool]:
    """Signal what is left in a group whose leader exited; SIGKILL it after `timeout`.

    `signum` None: the group already got its stop signal (it must get it only once), so just
    wait for it to go. Returns (how many processes were found, whether SIGKILL was needed).
    """
    members = group_members(pgid, exclude=leader)
    if not members:
        return 0, False
    found = len(members)
    if signum is not None:
        signal_group(pgid, signum)
    deadline = asyncio.get_running_loop().time() + timeout
    while members:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0 or not await wait_for_exit(members, remaining):
            signal_group(pgid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                await wait_for_exit(group_members(pgid, exclude=leader), 1.0)
            return found, True
        members = group_members(pgid, exclude=leader)  # a fresh scan: they may have forked
    return found, False
