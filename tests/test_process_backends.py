"""The process backends (runtime/backends): each one that this platform can run, on real
children: pidfd on Linux, kqueue on macOS and the BSDs, posix everywhere."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from helpers.orch import HAS_PROC, PROC, Orchestra, Project, wait_until

from orchestra.runtime import backends
from orchestra.runtime.backends import ProcessBackend, available, choose, make
from orchestra.runtime.backends.waiting import HAS_WAITID

T = TypeVar("T")
HERE = available()
SLEEP = [sys.executable, "-c", "import time; time.sleep(30)"]


def on_backend(name: str, body: Callable[[ProcessBackend], Awaitable[T]]) -> T:
    async def main() -> T:
        return await body(make(name, asyncio.get_running_loop()))
    return asyncio.run(main())


def exit_seen(backend: ProcessBackend, pid: int) -> asyncio.Future[float]:
    """Resolves (with the time) when the backend says `pid` exited."""
    seen: asyncio.Future[float] = asyncio.get_running_loop().create_future()
    backend.watch(pid, lambda: seen.done() or seen.set_result(time.monotonic()))
    return seen


def unreaped(pid: int) -> bool:
    """A zombie is still there to be waited for (without reaping it)."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


@pytest.mark.parametrize("name", HERE)
def test_exit_is_seen_and_the_child_stays_unreaped_until_reaped(name: str) -> None:
    async def body(backend: ProcessBackend) -> None:
        child = subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(7)"])
        seen = exit_seen(backend, child.pid)
        await asyncio.wait_for(seen, 10)
        assert backend.status(child.pid) == (7, None)
        if backend.keeps_zombie:
            assert unreaped(child.pid), "the status was read by reaping"
            assert backend.status(child.pid) == (7, None)   # read again: still there
        assert backend.reap(child.pid) == (7, None)
        child.returncode = 7
        with pytest.raises(ChildProcessError):
            os.waitpid(child.pid, os.WNOHANG)
    on_backend(name, body)


@pytest.mark.parametrize("name", HERE)
def test_a_killed_child_reports_128_plus_the_signal(name: str) -> None:
    async def body(backend: ProcessBackend) -> None:
        child = subprocess.Popen(SLEEP)
        seen = exit_seen(backend, child.pid)
        child.send_signal(signal.SIGKILL)
        await asyncio.wait_for(seen, 10)
        assert backend.status(child.pid) == (137, signal.SIGKILL)
        assert backend.reap(child.pid) == (137, signal.SIGKILL)
        child.returncode = 137
    on_backend(name, body)


@pytest.mark.parametrize("name", HERE)
def test_a_child_that_exited_before_it_was_watched_is_seen(name: str) -> None:
    async def body(backend: ProcessBackend) -> None:
        child = subprocess.Popen(["true"], stdout=subprocess.PIPE)
        if HAS_WAITID:
            while not unreaped(child.pid):   # bounded by pytest-timeout; `true` ends at once
                time.sleep(0.005)
        else:   # it has closed its stdout, so it is exiting; give it the time to be done
            assert child.stdout is not None and child.stdout.read() == b""
            time.sleep(0.2)
        await asyncio.wait_for(exit_seen(backend, child.pid), 10)
        assert backend.reap(child.pid) == (0, None)
        child.returncode = 0
        assert child.stdout is not None
        child.stdout.close()
    on_backend(name, body)


@pytest.mark.parametrize("name", HERE)
def test_exited_times_out_then_sees_the_exit(name: str) -> None:
    async def body(backend: ProcessBackend) -> None:
        child = subprocess.Popen(SLEEP)
        try:
            assert not await backend.exited(child.pid, 0.1)
            os.kill(child.pid, signal.SIGTERM)   # not Popen's: it would reap the child
            assert await backend.exited(child.pid, 10)
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.returncode = backend.reap(child.pid)[0]
    on_backend(name, body)


@pytest.mark.parametrize("name", HERE)
def test_gone_waits_for_a_process_that_is_not_a_child(name: str) -> None:
    """A grandchild (orphaned: init reaps it) gives its grandparent no SIGCHLD."""
    async def body(backend: ProcessBackend) -> tuple[bool, bool, float]:
        out = subprocess.run(["sh", "-c", "sleep 0.4 >/dev/null 2>&1 & echo $!"],
                             capture_output=True, check=True, text=True, timeout=10)
        grandchild = int(out.stdout)
        early = await backend.gone([grandchild], 0.05)
        start = time.monotonic()
        later = await backend.gone([grandchild], 10)
        return early, later, time.monotonic() - start
    early, later, waited = on_backend(name, body)
    assert not early and later, (early, later)
    assert waited < 9, waited


@pytest.mark.parametrize("name", HERE)
def test_a_child_orchestra_did_not_start_is_never_reaped(name: str) -> None:
    """Only the watched pids are waited for: another child's exit code stays its owner's."""
    async def body(backend: ProcessBackend) -> int:
        foreign = subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(5)"])
        ours = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"])
        seen = exit_seen(backend, ours.pid)
        await asyncio.wait_for(seen, 10)   # every SIGCHLD, the foreign one's too, came by
        ours.returncode = backend.reap(ours.pid)[0]
        return foreign.wait(10)
    for _ in range(3):
        assert on_backend(name, body) == 5


def test_the_best_backend_is_chosen_and_a_forced_one_is_checked() -> None:
    assert choose({}) == HERE[0]
    assert choose({backends.VARIABLE: "posix"}) == "posix"
    with pytest.raises(backends.BackendError, match="not a process backend"):
        choose({backends.VARIABLE: "epoll"})
    missing = [n for n in backends.NAMES if n not in HERE]
    for name in missing:
        with pytest.raises(backends.BackendError, match="not available on this platform"):
            choose({backends.VARIABLE: name})
    if sys.platform == "linux" and hasattr(os, "pidfd_open"):
        assert HERE[0] == "pidfd"
    if sys.platform == "darwin":
        assert HERE[0] == "kqueue"


def test_a_bad_backend_name_is_one_line_exit_2_and_nothing_starts(project: Project) -> None:
    flag = project.root / "started"
    project.yaml({"svc": {"command": ["touch", str(flag)]}})
    result = project.run("--no-color", env={backends.VARIABLE: "threads"})
    assert result.rc == 2, result.dump()
    assert result.err.decode().splitlines() == [
        "error: ORCHESTRA_PROCESS_BACKEND=threads: not a process backend "
        "(choose pidfd, kqueue, posix)"], result.dump()
    assert not flag.exists()


@pytest.mark.skipif(not HAS_WAITID, reason="no waitid here: the status is read by reaping")
@pytest.mark.parametrize("name", [n for n in HERE if n != "pidfd"])
def test_without_pidfd_the_status_is_read_with_waitid_not_waitpid(name: str) -> None:
    """The leader stays a zombie after its exit is reported (its group id stays ours)."""
    async def body(backend: ProcessBackend) -> None:
        child = subprocess.Popen(["sh", "-c", "exit 4"])
        await asyncio.wait_for(exit_seen(backend, child.pid), 10)
        assert backend.keeps_zombie and unreaped(child.pid)
        assert backend.status(child.pid) == (4, None)
        assert unreaped(child.pid)
        child.returncode = backend.reap(child.pid)[0]
    on_backend(name, body)


def _zombie(pid: int) -> bool:
    """`pid` has exited and nobody has reaped it yet."""
    if HAS_PROC:
        try:
            with open(f"{PROC}/{pid}/stat", "rb") as f:
                return f.read().rpartition(b")")[2].split()[0] == b"Z"
        except OSError:
            return False
    import psutil

    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("name", HERE)
def test_up_never_reaps_a_child_it_did_not_start(project: Project, name: str) -> None:
    """A child orchestra inherits (started by the process that exec'd it, as `sh -c 'cmd &
    exec orchestra up'` does) is not orchestra's to reap, even when other children's exits
    wake the backend: it stays a zombie while orchestra runs, its status untouched."""
    project.yaml({"quick": {"command": ["true"]},
                  "slow": {"command": [sys.executable, "-c", "import time; time.sleep(30)"]}})
    launcher = [sys.executable, "-c",
                "import os, subprocess, sys\n"
                "child = subprocess.Popen(['true'])\n"
                "print('inherited', child.pid, flush=True)\n"
                "os.execv(sys.executable, [sys.executable, '-m', 'orchestra', 'up', "
                "'--no-color', '--no-timestamps'])\n"]
    orch = Orchestra(launcher, project.root, project.env({backends.VARIABLE: name}))
    try:
        inherited = int(orch.wait_for(r"^inherited (\d+)$")[1])
        orch.wait_for(r"^system +\| quick: exited rc=0$")   # a SIGCHLD orchestra handled
        orch.wait_for(r"^system +\| slow: started")
        wait_until(lambda: _zombie(inherited) or not _exists(inherited), 5,
                   "the inherited child to have exited")
        time.sleep(0.2)   # no event says "not reaped": give a stray reaping the time to happen
        assert _zombie(inherited), f"{inherited} was reaped by orchestra ({name})"
        orch.send(signal.SIGINT)
        assert orch.wait(15).rc == 130
    finally:
        orch.close()


def _pidfds_of(pid: int) -> int:
    count = 0
    for fd in os.listdir(f"{PROC}/{pid}/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"{PROC}/{pid}/fd/{fd}") == "anon_inode:[pidfd]"
    return count


@pytest.mark.skipif(not HAS_PROC or "pidfd" not in HERE, reason="counts pidfds in Linux's /proc")
@pytest.mark.parametrize("name", ["pidfd", "posix"])
def test_the_variable_picks_the_backend_up_runs_on(project: Project, name: str) -> None:
    """What `make test`'s second run relies on: the variable reaches `up`, which then holds a
    pidfd per running service on pidfd, and none on posix."""
    project.yaml({"slow": {"command": [sys.executable, "-c", "import time; time.sleep(30)"]}})
    orch = project.start("--no-color", "--no-timestamps", env={backends.VARIABLE: name})
    orch.wait_for(r"^system +\| slow: started")
    held = _pidfds_of(orch.pid)
    orch.send(signal.SIGINT)
    assert orch.wait(15).rc == 130
    assert held == (1 if name == "pidfd" else 0), held
