"""Whether a process is still there: one answer for the port reservations and the backends.

A leaf module, importing nothing but `os`: `config/ports.py` asks it while a config is read
(`orchestra check` included), where the process-group helpers (`runtime/groups.py`, which
bring asyncio with them) are not loaded and should not be.
"""

from __future__ import annotations

import os


def alive(pid: int, *, zombie_is_alive: bool) -> bool:
    """`pid` is a process that exists; a process of another user counts (EPERM).

    A zombie (exited, not yet reaped) still holds its pid. `zombie_is_alive=False` says it has
    gone, as a backend waiting for a group's members to exit needs (as far as the platform
    tells: `groups.is_zombie`); `True` keeps it, as a port reservation needs, whose pid cannot
    be reused until it is reaped. 0 and negative pids name groups, not a process: False.
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if zombie_is_alive:
        return True
    from orchestra.runtime.groups import is_zombie  # loaded already where processes run

    return not is_zombie(pid)
