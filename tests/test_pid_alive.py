"""`runtime/pid_alive.alive`, the one answer to "is that process still there" that the port
reservations and the posix backend share: they differ only in what a zombie is."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from helpers.orch import wait_until

from orchestra.runtime.groups import membership
from orchestra.runtime.pid_alive import alive


def test_a_running_process_is_alive_under_either_rule() -> None:
    assert alive(os.getpid(), zombie_is_alive=True)
    assert alive(os.getpid(), zombie_is_alive=False)


@pytest.mark.skipif(not hasattr(os, "waitid"), reason="needs waitid to see an exit unreaped")
def test_a_zombie_is_alive_only_where_the_rule_says_so() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        wait_until(lambda: os.waitid(os.P_PID, child.pid,
                                     os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None,
                   10, "the child to exit (left unreaped)")
        assert alive(child.pid, zombie_is_alive=True)
        # where the platform cannot tell a zombie (Linux with /proc hidden), it counts
        assert alive(child.pid, zombie_is_alive=False) is (membership() == "probe")
    finally:
        child.wait(5)
    assert not alive(child.pid, zombie_is_alive=True)
    assert not alive(child.pid, zombie_is_alive=False)


def test_pid_0_names_a_group_not_a_process() -> None:
    """`kill(0, 0)` succeeds (it is our own group); a reservation line `PORT 0` is not alive."""
    assert not alive(0, zombie_is_alive=True)
    assert not alive(0, zombie_is_alive=False)
