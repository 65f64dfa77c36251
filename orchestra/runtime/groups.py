"""Process-group operations: signal a group, list its members, wait for them to go away.

While a service's leader is unreaped (a zombie), its pid, and so its process group id, cannot be
reused, which is what makes signalling the group after the leader exited safe. Members are
listed from /proc where it exists; elsewhere from psutil (sysctl on macOS and the BSDs). On a
Linux without a readable /proc, psutil has nothing to read either: the group can then only be
probed with `killpg(pgid, 0)`, which a zombie leader answers too, so the leader is reaped
first (`can_list_members`). POSIX keeps a group's id from being reused while any member is
left, so what is lost is only the case where the group empties and a new group takes its id
in the moment between two probes. Members are awaited through the process backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from functools import cache

from orchestra.runtime.backends import for_loop


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


@cache
def membership() -> str:
    """Where group members are listed from: "proc", "psutil", or "probe" (none)."""
    if os.path.exists("/proc/self/stat"):
        return "proc"
    return "psutil" if sys.platform != "linux" else "probe"


def can_list_members() -> bool:
    return membership() != "probe"


def is_zombie(pid: int) -> bool:
    """An exited process its parent has not reaped (False when the platform cannot say)."""
    if membership() == "proc":
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                return f.read().rpartition(b")")[2].split(None, 1)[0] == b"Z"
        except (OSError, IndexError):
            return False
    if membership() == "psutil":
        import psutil

        try:
            return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
        except psutil.Error:
            return False
    return False


def _read_groups() -> dict[int, list[int]]:
    if membership() == "probe":
        return {}
    return _read_proc_groups() if membership() == "proc" else _read_psutil_groups()


def _read_psutil_groups() -> dict[int, list[int]]:
    import psutil

    groups: dict[int, list[int]] = {}
    for process in psutil.process_iter(["status"]):
        try:
            if process.info["status"] != psutil.STATUS_ZOMBIE:
                groups.setdefault(os.getpgid(process.pid), []).append(process.pid)
        except (OSError, psutil.Error):
            continue
    return groups


def _read_proc_groups() -> dict[int, list[int]]:
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
    """Live (non-zombie) processes in the group (empty where they cannot be listed)."""
    return [pid for pid in _Scan.members(pgid) if pid != exclude]


async def wait_for_exit(pids: list[int], timeout: float) -> bool:
    """Wait until every pid has exited, at most `timeout` seconds; True if they all did."""
    return await for_loop().gone(pids, timeout)


async def _gone_unless_hurried(pids: list[int], timeout: float,
                               hurry: asyncio.Event | None) -> bool:
    """`wait_for_exit`, ended early (False) once `hurry` is set: a shorter stop timeout
    asked for meanwhile (`down -t 0`)."""
    if hurry is None:
        return await wait_for_exit(pids, timeout)
    if hurry.is_set():
        return False
    gone = asyncio.ensure_future(wait_for_exit(pids, timeout))
    hurried = asyncio.ensure_future(hurry.wait())
    try:
        await asyncio.wait((gone, hurried), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (gone, hurried):
            task.cancel()
        await asyncio.gather(gone, hurried, return_exceptions=True)
    return not gone.cancelled() and gone.exception() is None and gone.result()


#: `empty_group`'s count where members cannot be listed: some were there, how many is unknown.
SOME = -1


async def empty_group(pgid: int, leader: int, signum: int | None, timeout: float,
                      hurry: asyncio.Event | None = None) -> tuple[int, bool]:
    """Signal what is left in a group whose leader exited; SIGKILL it after `timeout`.

    `signum` None: the group already got its stop signal (it must get it only once), so just
    wait for it to go. `hurry`, once set, brings the SIGKILL forward to now. Returns (how
    many processes were found, `SOME` where they cannot be counted; whether SIGKILL was
    needed). Where members cannot be listed the leader must have been reaped already (see
    the module's docstring).
    """
    if not can_list_members():
        return await _empty_probed_group(pgid, signum, timeout, hurry)
    members = group_members(pgid, exclude=leader)
    if not members:
        return 0, False
    found = len(members)
    if signum is not None:
        signal_group(pgid, signum)
    deadline = asyncio.get_running_loop().time() + timeout
    while members:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0 or not await _gone_unless_hurried(members, remaining, hurry):
            signal_group(pgid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                await wait_for_exit(group_members(pgid, exclude=leader), 1.0)
            return found, True
        members = group_members(pgid, exclude=leader)  # a fresh scan: they may have forked
    return found, False


def session_members(sid: int, exclude: int | None = None) -> list[int]:
    """Live (non-zombie) processes of session `sid`, whatever their group: a `tty: true`
    service's session is its terminal's, where a shell puts each job in a group of its own
    (empty where processes cannot be listed)."""
    if membership() == "probe":
        return []
    members = _read_proc_session(sid) if membership() == "proc" else _read_psutil_session(sid)
    return [pid for pid in members if pid != exclude]


def _read_proc_session(sid: int) -> list[int]:
    members = []
    for entry in os.listdir("/proc"):
        if not (entry.isascii() and entry.isdigit()):
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        fields = data.rpartition(b")")[2].split(None, 4)   # state ppid pgrp session ...
        if len(fields) > 3 and fields[0] != b"Z" and int(fields[3]) == sid:
            members.append(int(entry))
    return members


def _read_psutil_session(sid: int) -> list[int]:
    import psutil

    members = []
    for process in psutil.process_iter(["status"]):
        with contextlib.suppress(OSError, psutil.Error):
            if process.info["status"] != psutil.STATUS_ZOMBIE and os.getsid(process.pid) == sid:
                members.append(process.pid)
    return members


def _signal_each(pids: list[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


async def empty_session(sid: int, leader: int, signum: int, timeout: float,
                        hurry: asyncio.Event | None = None) -> tuple[int, bool]:
    """`empty_group` for what is left in the session of a leader that exited, outside its
    group: these processes never got the stop signal, so they get `signum`, then SIGKILL
    after `timeout`. The unreaped leader keeps the session id from being reused."""
    members = session_members(sid, exclude=leader)
    if not members:
        return 0, False
    found = len(members)
    _signal_each(members, signum)
    deadline = asyncio.get_running_loop().time() + timeout
    while members:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0 or not await _gone_unless_hurried(members, remaining, hurry):
            _signal_each(session_members(sid, exclude=leader), signal.SIGKILL)
            with contextlib.suppress(Exception):
                await wait_for_exit(session_members(sid, exclude=leader), 1.0)
            return found, True
        members = session_members(sid, exclude=leader)   # they may have forked
    return found, False


async def _empty_probed_group(pgid: int, signum: int | None, timeout: float,
                              hurry: asyncio.Event | None) -> tuple[int, bool]:
    if not signal_group(pgid, 0):
        return 0, False
    if signum is not None:
        signal_group(pgid, signum)
    if await _probe_until_empty(pgid, timeout, hurry):
        return SOME, False
    signal_group(pgid, signal.SIGKILL)
    await _probe_until_empty(pgid, 1.0, None)
    return SOME, True


async def _probe_until_empty(pgid: int, timeout: float, hurry: asyncio.Event | None) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    interval = 0.001
    while signal_group(pgid, 0):
        remaining = deadline - loop.time()
        if remaining <= 0 or (hurry is not None and hurry.is_set()):
            return False
        await asyncio.sleep(min(interval, remaining))
        interval = min(interval * 2, 0.05)
    return True
