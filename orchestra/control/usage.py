"""CPU time and resident memory of the process groups of a stack's instances.

Measured by the client (`orchestra ps`, `orchestra tui`), not by the stack: the stack's one
event loop must not spend its time walking every process of the machine. A service is a
process group (it was started as a group leader), so its usage includes every process it
started that stayed in its group.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Usage:
    cpu_s: float | None
    rss_bytes: int | None

    def as_dict(self) -> dict[str, object]:
        return {"cpu_s": self.cpu_s, "rss_bytes": self.rss_bytes}


UNKNOWN = Usage(None, None)


def usage_of_groups(leaders: Iterable[object]) -> dict[int, Usage]:
    """The usage of each process group led by one of `leaders` (pids; None and other
    non-pids are skipped), from one walk over the machine's processes."""
    import psutil

    wanted = {pid for pid in leaders if isinstance(pid, int) and not isinstance(pid, bool)}
    cpu = dict.fromkeys(wanted, 0.0)
    rss = dict.fromkeys(wanted, 0)
    if not wanted:
        return {}
    try:
        processes = list(psutil.process_iter())
    except (OSError, psutil.Error, IndexError):   # psutil on a Linux whose /proc is hidden
        return dict.fromkeys(wanted, UNKNOWN)
    for process in processes:
        try:
            group = os.getpgid(process.pid)
            if group not in wanted:
                continue
            times = process.cpu_times()
            cpu[group] += times.user + times.system
            rss[group] += process.memory_info().rss
        except (OSError, psutil.Error):
            continue
    return {pid: Usage(round(cpu[pid], 2), rss[pid]) for pid in wanted}
