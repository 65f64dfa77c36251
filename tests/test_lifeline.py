"""The watchdog: nothing outlives a SIGKILLed orchestra, from the first fork on."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import pytest
from helpers.orch import PROC, Project, describe, wait_no_leftovers, wait_until

SERVICES = 3


def _services_forked(pid: int) -> int:
    """How many services orchestra has forked so far: its children but the watchdog (its
    first child). A child counts from its fork on, before it even runs its program."""
    try:
        with open(f"{PROC}/{pid}/task/{pid}/children", "rb") as f:
            return max(0, len(f.read().split()) - 1)
    except OSError:
        return 0


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"),
                    reason="the watchdog finds a child it was not yet told of through /proc/*/fd; "
                           "without /proc that moment is not covered (docs/ARCHITECTURE.md)")
@pytest.mark.parametrize("nth", range(1, SERVICES + 1))
@pytest.mark.parametrize("tty", [False, True], ids=["pipes", "tty"])
def test_sigkill_as_soon_as_a_service_exists_leaves_nothing(project: Project, nth: int,
                                                            tty: bool) -> None:
    """The kill lands as soon as the nth service exists (forked, maybe not yet exec'd),
    repeatedly: the watchdog must find it even though its pid was never sent (by its stdout
    pipe, or by its pseudo-terminal for `tty: true`, where the service ignores the SIGHUP
    that the kernel sends when orchestra's end of its terminal closes)."""
    command = "trap '' HUP; sleep 300" if tty else "sleep 300"
    project.yaml({f"s{i}": {"command": command, "tty": tty} for i in range(SERVICES)})
    for attempt in range(5):
        orch = project.start("--no-color")
        deadline = time.monotonic() + 10
        while _services_forked(orch.pid) < nth:
            assert orch.proc.poll() is None, f"orchestra ended early: {orch.output()}"
            assert time.monotonic() < deadline, "the services were not started within 10 s"
        orch.send(signal.SIGKILL)
        orch.proc.wait(5)
        left = wait_no_leftovers(project.mark, 3.0)
        assert not left, (f"attempt {attempt}: kill after service {nth} was forked left "
                          f"{describe(left)}")


def test_notify_folder_is_removed_after_sigkill(project: Project,
                                                request: pytest.FixtureRequest) -> None:
    # a short folder: a socket path holds at most 107 bytes
    runtime = Path(tempfile.mkdtemp(prefix="xdg-", dir="/tmp"))
    request.addfinalizer(lambda: shutil.rmtree(runtime, ignore_errors=True))
    project.yaml({"svc": {"command": "sleep 300", "readiness": {"notify": True}}})
    orch = project.start("--no-color", "--no-timestamps",
                         env={"XDG_RUNTIME_DIR": str(runtime)})
    orch.wait_for(r"svc: started pid=\d+")
    # (beside the control socket's folder, `orchestra`)
    folders = [f for f in runtime.iterdir() if f.name.startswith("orchestra-")]
    assert len(folders) == 1, list(runtime.iterdir())
    orch.send(signal.SIGKILL)
    orch.proc.wait(5)
    wait_until(lambda: not folders[0].exists(), 3.0,
               f"{folders[0]} to be removed")
    left = wait_no_leftovers(project.mark, 3.0)
    assert not left, f"left behind: {describe(left)}"



@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"),
                    reason="the watchdog finds an announced child through /proc/*/fd")
@pytest.mark.parametrize("kind", ["pipe", "tty"])
def test_the_watchdog_kills_whatever_holds_the_announced_pipe_or_terminal(kind: str) -> None:
    """`expect` names what the next service will hold: its stdout pipe's inode, or the path of
    its pseudo-terminal. If orchestra's lifeline ends before the service's group is tracked,
    the watchdog finds the holder by that and stops it."""
    import subprocess

    from orchestra.runtime.lifeline import Lifeline

    if kind == "pipe":
        unused, held = os.pipe()
        os.close(unused)
        announced: int | str = os.fstat(held).st_ino
    else:
        unused, held = os.openpty()
        announced = os.ttyname(held)
    lifeline = Lifeline()
    lifeline.start()
    holder = subprocess.Popen(["sleep", "300"], stdin=held, start_new_session=True)
    try:
        os.close(held)
        lifeline.expect(announced)
        lifeline.close()   # as orchestra's death closes it, before `track`
        assert holder.wait(5) == -signal.SIGTERM
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(5)
        if kind == "tty":
            os.close(unused)
