"""What the bench reads from /proc: sessions, process trees, memory, CPU and wake-ups.

A run's processes are identified by session, not by a marker in their command
line, so that nothing per run has to appear in a Procfile, an argv or an
environment.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator


def read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def all_pids() -> Iterator[int]:
    for name in os.listdir("/proc"):
        if name.isdigit():
            yield int(name)


def proc_stat(pid: int) -> list[str]:
    """Fields of /proc/PID/stat after the command name (index 0 = state, 3 = session)."""
    raw = read_bytes(f"/proc/{pid}/stat").decode(errors="replace")
    return raw[raw.rfind(")") + 2 :].split() if raw else []


def is_alive(pid: int) -> bool:
    st = proc_stat(pid)
    return bool(st) and st[0] not in ("Z", "X")


def session_of(pid: int) -> int | None:
    """Session id of a live (non-zombie) process, None if gone."""
    st = proc_stat(pid)
    return int(st[3]) if len(st) > 3 and st[0] not in ("Z", "X") else None


# Sessions of runs not yet torn down: killed at exit if the harness is interrupted.
ACTIVE_SESSIONS: set[int] = set()


def session_pids(sids: set[int], exclude: tuple[int, ...] = ()) -> list[int]:
    """Live processes in any of the sessions.

    A run's processes are identified by session, not by a marker in their
    command line, so that nothing per-run has to appear in a Procfile, an argv
    or an environment (which would defeat a runner's config cache). Linux does
    not reuse a pid while it still names a live session, so a match is ours.
    """
    me = os.getpid()
    return [
        pid for pid in all_pids() if pid != me and pid not in exclude and session_of(pid) in sids
    ]


def kill_sessions(sids: set[int], exclude: tuple[int, ...] = ()) -> None:
    """SIGKILL every process in the sessions until none is left (bounded)."""
    for _ in range(50):
        pids = session_pids(sids, exclude)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)


def children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for pid in all_pids():
        st = proc_stat(pid)
        if len(st) > 1:
            children.setdefault(int(st[1]), []).append(pid)
    return children


def descendants(root: int) -> list[int]:
    """Live descendants of `root` (not itself), by walking parent pids."""
    children = children_map()
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return [p for p in found if is_alive(p)]


def helper_pids(root: int, service_needle: bytes) -> list[int]:
    """The runner and its descendants that are not services (helpers, workers).

    A process whose command line contains `service_needle` is a service (or its
    `sh -c` wrapper): not the runner's cost, and its subtree is not walked.
    """
    children = children_map()
    found, todo = [root], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        if service_needle in read_bytes(f"/proc/{pid}/cmdline"):
            continue
        found.append(pid)
        todo.extend(children.get(pid, []))
    return [p for p in found if is_alive(p)]


def pss_kb(pid: int) -> int:
    for line in read_bytes(f"/proc/{pid}/smaps_rollup").splitlines():
        if line.startswith(b"Pss:"):
            return int(line.split()[1])
    return 0


def cpu_ticks(pid: int) -> int:
    st = proc_stat(pid)
    return int(st[11]) + int(st[12]) if len(st) > 12 else 0


def ctx_switches(pid: int) -> int:
    """Voluntary + involuntary context switches summed over all threads."""
    total = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for tid in tids:
        for line in read_bytes(f"/proc/{pid}/task/{tid}/status").splitlines():
            if line.startswith((b"voluntary_ctxt_switches", b"nonvoluntary_ctxt_switches")):
                total += int(line.split()[1])
    return total
