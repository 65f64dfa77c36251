"""`orchestra up` stopping: signals to whole process groups, timeouts, the watchdog, the tty."""

from __future__ import annotations

import os
import pty
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from helpers.orch import (
    Project,
    alive,
    describe,
    py,
    wait_gone,
    wait_no_leftovers,
    wait_until,
)

# A service that starts a grandchild in its own process group; both print their pids and wait.
WITH_GRANDCHILD = """
    import os, subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c",
        "import os, time; os.write(1, b'grandchild %d\\\\n' % os.getpid()); time.sleep(60)"])
    os.write(1, b"leader %d\\n" % os.getpid())
    time.sleep(60)
"""

IGNORES_TERM = """
    import os, signal, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("stubborn", os.getpid(), flush=True)
    time.sleep(60)
"""


GRANDCHILD_CODE = """
import os, signal, sys, time
def bye(signum, frame):
    os.write(1, f"grandchild got {signal.Signals(signum).name}\\n".encode())
    sys.exit(0)
signal.signal(signal.SIGTERM, bye)
os.write(1, b"grandchild %d\\n" % os.getpid())
time.sleep(60)
"""

# The leader waits for its child on SIGTERM: only a signal to the whole group ends both
# quickly; a signal to the leader alone would leave it waiting until the SIGKILL.
GROUP_LEADER = f"""
    import os, signal, subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", {GRANDCHILD_CODE!r}])
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(child.wait()))
    os.write(1, b"leader %d\\n" % os.getpid())
    time.sleep(60)
"""


def test_sigint_stops_service_and_its_grandchild(project: Project) -> None:
    project.yaml({"svc": {"command": py(GROUP_LEADER)}})
    orch = project.start("--no-timestamps", "--no-color", "-t", "20")
    leader = int(orch.wait_for(r"^svc +\| leader (\d+)$")[1])
    grandchild = int(orch.wait_for(r"^svc +\| grandchild (\d+)$")[1])
    assert os.getpgid(grandchild) == leader, "the grandchild should share the service's group"

    started = time.monotonic()
    orch.send(signal.SIGINT)
    result = orch.wait(15)
    elapsed = time.monotonic() - started

    assert result.rc == 130, result.dump()
    assert re.search(rf"^system +\| svc: sending SIGTERM to process group {leader}$",
                     result.text, re.M), result.dump()
    assert "svc    | grandchild got SIGTERM" in result.lines, result.dump()
    assert "SIGKILL" not in result.text, result.dump()
    assert elapsed < 5.0, f"took {elapsed:.1f} s: the group was not signalled as a whole"
    left = wait_gone([leader, grandchild], 2.0)
    assert not left, f"still alive after orchestra exited: {describe(left)}"
    assert not wait_no_leftovers(project.mark, 2.0)


def test_term_ignoring_service_is_killed_after_timeout(project: Project) -> None:
    project.yaml({"svc": {"command": py(IGNORES_TERM)}})
    orch = project.start("--no-timestamps", "--no-color", "-t", "0.5")
    pid = int(orch.wait_for(r"^svc +\| stubborn (\d+)$")[1])

    started = time.monotonic()
    orch.send(signal.SIGINT)
    result = orch.wait(15)
    elapsed = time.monotonic() - started

    assert result.rc == 130, result.dump()
    assert re.search(r"^system +\| svc: .*sending SIGKILL", result.text, re.M), result.dump()
    assert 0.5 <= elapsed < 5.0, f"stopped after {elapsed:.2f} s with -t 0.5"
    assert not alive(pid)


def test_sigkilled_orchestra_leaves_nothing_behind(project: Project) -> None:
    project.yaml({
        "a": {"command": py(WITH_GRANDCHILD)},
        "b": {"command": py(IGNORES_TERM)},
        "c": {"command": py("import os, time; print('plain', os.getpid(), flush=True); "
                            "time.sleep(60)")},
    })
    orch = project.start("--no-timestamps", "--no-color")
    pids = [int(orch.wait_for(pattern)[1]) for pattern in (
        r"^a +\| leader (\d+)$", r"^a +\| grandchild (\d+)$",
        r"^b +\| stubborn (\d+)$", r"^c +\| plain (\d+)$")]

    orch.send(signal.SIGKILL)
    orch.proc.wait(5)
    left = wait_gone(pids, 3.0)
    assert not left, f"services outlived a SIGKILLed orchestra by 3 s: {describe(left)}"
    rest = wait_no_leftovers(project.mark, 2.0)
    assert not rest, f"left behind: {describe(rest)}"


def test_service_that_closes_stdout_keeps_running_and_is_stopped(project: Project) -> None:
    project.yaml({"svc": {"command": py("""
        import os, sys, time
        print("before close", flush=True)
        os.close(1)
        sys.stderr.write(f"after close {os.getpid()}\\n")
        sys.stderr.flush()
        time.sleep(60)
    """)}})
    orch = project.start("--no-timestamps", "--no-color")
    orch.wait_for(r"^svc +\| before close$")
    pid = int(orch.wait_for(r"^svc +\| after close (\d+)$")[1])
    assert alive(pid)
    assert not re.search(r"svc: (exited|stopped|killed)", orch.output()), orch.output()

    orch.send(signal.SIGINT)
    result = orch.wait(15)
    assert result.rc == 130, result.dump()
    assert re.search(rf"^system +\| svc: sending SIGTERM to process group {pid}$",
                     result.text, re.M), result.dump()
    assert not wait_gone([pid], 2.0)


def test_setsid_grandchild_holding_the_pipe_does_not_hang_orchestra(
        project: Project, tmp_path: Path) -> None:
    pidfile = tmp_path / "escaped.pid"
    project.yaml({"svc": {"command": py(f"""
        import subprocess, sys
        subprocess.Popen([sys.executable, "-c",
            "import os, time; open({str(pidfile)!r}, 'w').write(str(os.getpid())); "
            "time.sleep(60)"], start_new_session=True)
        print("leader done", flush=True)
    """)}})
    escaped = 0
    try:
        started = time.monotonic()
        orch = project.start("--no-timestamps", "--no-color")
        escaped = int(wait_until(lambda: pidfile.exists() and pidfile.read_text(), 10,
                                 "the escaped grandchild's pid"))
        result = orch.wait(10)
        elapsed = time.monotonic() - started
        assert result.rc == 0, result.dump()
        assert result.of("svc") == ["leader done"], result.dump()
        assert re.search(r"^system +\| svc: exited rc=0$", result.text, re.M), result.dump()
        assert elapsed < 5.0, f"orchestra took {elapsed:.1f} s (drain bound is 1 s)"
        assert alive(escaped), "the setsid'd grandchild is outside orchestra's reach"
    finally:
        if escaped:
            os.kill(escaped, signal.SIGKILL)


@pytest.mark.parametrize(("signum", "code"), [
    (signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_stop_signal_to_orchestra_sets_exit_code(
        project: Project, signum: signal.Signals, code: int) -> None:
    project.yaml({
        "db": {"command": py("import time; print('db up', flush=True); time.sleep(60)")},
        "web": {"command": py("import time; print('web up', flush=True); time.sleep(60)"),
                "depends_on": ["db"]},
    })
    orch = project.start("--no-timestamps", "--no-color")
    orch.wait_for(r"^db +\| db up$")
    orch.wait_for(r"^web +\| web up$")
    orch.send(signum)
    result = orch.wait(15)
    assert result.rc == code, result.dump()
    # reverse dependency order: web is sent its signal before db
    assert result.index(r"web: sending SIGTERM") < result.index(r"db: sending SIGTERM")
    assert not wait_no_leftovers(project.mark, 2.0)


# The leader exits 3 and leaves a process in its group that takes a second to stop.
SLOW_CHILD = """
import os, signal, time
def slow_stop(*_):
    os.write(1, b"child stopping\\n")
    time.sleep(1)
    os._exit(0)
signal.signal(signal.SIGTERM, slow_stop)
os.write(1, b"child up\\n")
time.sleep(60)
"""
LEAVES_A_SLOW_CHILD = f"""
    import subprocess, sys, time
    subprocess.Popen([sys.executable, "-c", {SLOW_CHILD!r}])
    time.sleep(0.3)
    sys.exit(3)
"""


@pytest.mark.parametrize(("policy", "code"), [("on-failure", 130), ("no", 3)])
def test_a_signal_during_a_failed_exits_clean_up(
        project: Project, policy: str, code: int) -> None:
    """SIGINT while a service's exit (rc 3) is still being cleaned up: if its restart policy
    would have restarted it, only the stop prevented that, and the run ends with 130; a
    service that would not have been restarted failed on its own, and its code wins."""
    project.yaml({"svc": {"command": py(LEAVES_A_SLOW_CHILD), "restart": policy}})
    orch = project.start("--no-timestamps", "--no-color")
    orch.wait_for(r"^svc +\| child stopping$")
    orch.send(signal.SIGINT)
    result = orch.wait(15)
    assert result.rc == code, result.dump()
    assert not wait_no_leftovers(project.mark, 2.0)


COUNTER = """
    import os, signal, sys, time
    path = sys.argv[1]
    def record(signum, frame):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, signal.Signals(signum).name.encode() + b"\\n")
        os.close(fd)
    signal.signal(signal.SIGINT, record)
    signal.signal(signal.SIGTERM, record)
    print(os.environ["ORCHESTRA_SERVICE"], "ready", flush=True)
    while True:
        time.sleep(1)
"""


def test_ctrl_c_on_a_terminal_gives_each_service_exactly_one_signal(
        project: Project, tmp_path: Path) -> None:
    term_file, int_file = tmp_path / "term.sigs", tmp_path / "int.sigs"
    project.yaml({
        "t": {"command": [*py(COUNTER), str(term_file)]},
        "i": {"command": [*py(COUNTER), str(int_file)], "stop_signal": "SIGINT"},
    })
    master, slave = pty.openpty()
    # `setsid -c`: a new session whose controlling terminal is the pty, orchestra in the
    # terminal's foreground process group, as in an interactive shell.
    proc = subprocess.Popen(
        ["setsid", "-c", *project.argv(["--no-timestamps", "-t", "1"])],
        cwd=project.root, env=project.env(), stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    seen = bytearray()
    lock = threading.Lock()

    def pump() -> None:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:   # EIO: every holder of the slave closed it
                return
            if not chunk:
                return
            with lock:
                seen.extend(chunk)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        def text() -> str:
            with lock:
                return seen.decode("utf-8", "replace")

        wait_until(lambda: "t ready" in text() and "i ready" in text(), 10,
                   "both services ready on the terminal")
        os.write(master, b"\x03")   # the terminal turns ^C into SIGINT for its foreground group
        rc = proc.wait(15)
        reader.join(5)
        output = text()
        assert rc == 130, output
        assert term_file.read_text().split() == ["SIGTERM"], output
        assert int_file.read_text().split() == ["SIGINT"], output
        assert "\x1b[" in output, "the prefix should be coloured on a terminal"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        os.close(master)


@pytest.mark.skipif(not os.path.exists("/proc/self/status"),
                    reason="reads a process's masks from Linux's /proc/PID/status")
def test_children_get_default_dispositions_and_empty_mask(project: Project) -> None:
    # grep, not python: the interpreter ignores SIGPIPE and SIGXFSZ on its own
    project.yaml({"status": {"command": ["grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status"]}})
    launcher = py("""
        import os, signal, sys
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGQUIT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1, signal.SIGTERM])
        status = open("/proc/self/status").read()
        sys.stderr.write("launcher " + " ".join(
            line for line in status.splitlines() if line.startswith(("SigBlk", "SigIgn"))) + "\\n")
        sys.stderr.flush()
        os.execv(sys.executable, [sys.executable, "-m", "orchestra", "up", *sys.argv[1:]])
    """)
    proc = subprocess.run([*launcher, "--no-timestamps", "--no-color"], cwd=project.root,
                          env=project.env(), capture_output=True, timeout=20,
                          start_new_session=True)
    out = proc.stdout.decode()
    launcher_state = proc.stderr.decode()
    # the premise: orchestra really started with SIGINT ignored and signals blocked
    blocked = int(re.search(r"SigBlk:\s*([0-9a-f]+)", launcher_state)[1], 16)  # type: ignore[index]
    ignored = int(re.search(r"SigIgn:\s*([0-9a-f]+)", launcher_state)[1], 16)  # type: ignore[index]
    assert blocked & (1 << (signal.SIGUSR1 - 1)) and ignored & (1 << (signal.SIGINT - 1))

    assert proc.returncode == 0, out + launcher_state
    assert re.search(r"^status +\| SigBlk:\s+0+$", out, re.M), out
    child_ignored = int(re.search(r"^status +\| SigIgn:\s+([0-9a-f]+)$", out, re.M)[1], 16)  # type: ignore[index]
    # Signals 32 and 33 belong to the C library (thread cancellation, setxid): no process can
    # change them through it, and it installs its own handlers when it uses them. Whatever the
    # environment that started the test did with them is out of orchestra's hands.
    libc_reserved = (1 << 31) | (1 << 32)
    assert child_ignored & ~libc_reserved == 0, out


def test_second_sigint_kills_at_once(project: Project) -> None:
    project.yaml({"svc": {"command": py(IGNORES_TERM)}})
    orch = project.start("--no-timestamps", "--no-color", "-t", "30")
    pid = int(orch.wait_for(r"^svc +\| stubborn (\d+)$")[1])
    orch.send(signal.SIGINT)
    orch.wait_for(r"svc: sending SIGTERM")
    orch.send(signal.SIGINT)
    result = orch.wait(5)
    assert result.rc == 130, result.dump()
    assert not alive(pid)


def test_second_sigint_stops_a_later_wave_without_a_failure(project: Project) -> None:
    """A second Ctrl-C SIGKILLs the services still waiting for their wave too: they are
    stopped by the user, not failed, so the run still exits 130 (not 137)."""
    project.yaml({
        "db": {"command": py("import os, time; print('db', os.getpid(), flush=True); "
                             "time.sleep(60)")},
        "web": {"command": py(IGNORES_TERM), "depends_on": ["db"]},
    })
    orch = project.start("--no-timestamps", "--no-color", "-t", "30")
    db = int(orch.wait_for(r"^db +\| db (\d+)$")[1])
    orch.wait_for(r"^web +\| stubborn \d+$")
    orch.send(signal.SIGINT)
    orch.wait_for(r"web: sending SIGTERM")
    orch.send(signal.SIGINT)
    result = orch.wait(5)
    assert result.rc == 130, result.dump()
    result.index(r"^system +\| db: stopped by SIGKILL$")   # raises, with the output, if not
    assert not any("db: killed by" in line for line in result.lines), result.dump()
    assert not alive(db)



def test_an_inherited_sigchld_ignore_does_not_break_exit_codes(project: Project) -> None:
    """With SIGCHLD ignored the kernel would reap children itself and exit codes would be lost."""
    project.yaml({"fails": {"command": py("import sys; sys.exit(5)")}})
    launcher = py("""
        import os, signal, sys
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)
        os.execv(sys.executable, [sys.executable, "-m", "orchestra", "up", *sys.argv[1:]])
    """)
    proc = subprocess.run([*launcher, "--no-timestamps", "--no-color"], cwd=project.root,
                          env=project.env(), capture_output=True, timeout=20,
                          start_new_session=True)
    assert proc.returncode == 5, proc.stdout.decode() + proc.stderr.decode()
    assert b"fails: exited rc=5" in proc.stdout
