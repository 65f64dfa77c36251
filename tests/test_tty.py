"""`tty: true` and `--tty SERVICE`: a service on a pseudo-terminal of its own, its output still
prefixed, lossless and escape-safe; everything else (groups, stopping, the lifeline) as for
pipes. orchestra runs here with its stdout a pipe, or on a pty driven by the test."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
from helpers.orch import PY, Project, Result, leftovers, py, wait_gone, wait_no_leftovers
from helpers.terminal import OnTerminal

#: What a service on a terminal sees: isatty of 0-2, its size, and whether the pty is its
#: controlling terminal with its own group in the foreground (as a shell's job would be).
PROBE = """
    import os, sys
    size = os.get_terminal_size(0)
    print("TTY", [os.isatty(fd) for fd in range(3)], f"{size.lines}x{size.columns}", flush=True)
    print("CTTY", os.getsid(0) == os.getpid() and os.tcgetpgrp(0) == os.getpgrp(), flush=True)
    print("on stderr", file=sys.stderr, flush=True)
"""
#: Prints its size now and at each SIGWINCH, until stopped.
RESIZED = """
    import os, signal, time
    def show(*_):
        size = os.get_terminal_size(0)
        print(f"SIZE {size.lines}x{size.columns}", flush=True)
    signal.signal(signal.SIGWINCH, show)
    show()
    while True:
        time.sleep(1)
"""
ARGS = ("--no-timestamps", "--no-color")


def test_a_tty_service_sees_a_terminal_80x24_when_orchestra_has_none(project: Project) -> None:
    project.yaml({"t": {"command": py(PROBE), "tty": True},
                  "plain": {"command": py("import os; print('TTY', os.isatty(1))")}})
    result = project.run(*ARGS)
    assert result.rc == 0, result.dump()
    assert sorted(result.of("t")) == ["CTTY True", "TTY [True, True, True] 24x80",
                                      "on stderr"], result.dump()
    assert result.of("plain") == ["TTY False"], "only the tty service gets a terminal"


def test_tty_output_is_one_stream_named_tty_in_json(project: Project) -> None:
    project.yaml({"t": {"command": py(PROBE), "tty": True}})
    result = project.run("--output", "json")
    assert result.rc == 0, result.dump()
    records = [json.loads(line) for line in result.lines]
    streams = {r["stream"] for r in records if r["service"] == "t"}
    assert streams == {"system", "tty"}, result.dump()
    assert any(r["text"] == "on stderr" and r["stream"] == "tty" for r in records)


def test_the_tty_flag_gives_a_service_a_terminal(project: Project) -> None:
    project.yaml({"t": {"command": py(PROBE)}})
    result = project.run(*ARGS, "--tty", "t")
    assert result.rc == 0, result.dump()
    assert "TTY [True, True, True] 24x80" in result.of("t"), result.dump()


def test_an_unknown_tty_name_is_a_usage_error_and_starts_nothing(project: Project) -> None:
    project.yaml({"web": {"command": py("print('started')")}})
    result = project.run(*ARGS, "--tty", "wbe")
    assert result.rc == 2, result.dump()
    assert b"--tty: unknown service 'wbe' (did you mean 'web'?)" in result.err
    assert b"Traceback" not in result.err
    assert "started" not in result.text


def test_a_missing_program_on_a_terminal_fails_as_on_pipes(project: Project) -> None:
    project.yaml({"t": {"command": ["no-such-program-here"], "tty": True}})
    result = project.run(*ARGS)
    assert result.rc == 127, result.dump()
    assert "t: cannot start: 'no-such-program-here' not found" in result.of("system")


def test_a_tty_service_gets_the_environment_it_was_given(project: Project) -> None:
    """The helper that makes the terminal its controlling one is Python, which sets LC_CTYPE
    under the C locale (PEP 538): a tty service must see what a piped one sees, no more.
    (The services are shells: a Python service would set it itself.)"""
    env = {k: v for k, v in project.env().items() if not k.startswith(("LC_", "LANG"))}
    project.yaml({"t": {"command": "printenv LC_CTYPE || echo unset", "tty": True},
                  "piped": {"command": "printenv LC_CTYPE || echo unset"},
                  "given": {"command": "printenv LC_CTYPE", "tty": True,
                            "env": {"LC_CTYPE": "mine"}}})
    proc = subprocess.run([PY, "-m", "orchestra", "up", *ARGS], cwd=project.root, env=env,
                          capture_output=True, timeout=20, check=False)
    result = Result(proc.returncode, proc.stdout, proc.stderr)
    assert result.rc == 0, result.dump()
    assert result.of("t") == result.of("piped") and len(result.of("t")) == 1, result.dump()
    assert result.of("given") == ["mine"], result.dump()


def test_a_tty_service_inherits_no_fd_of_orchestra(project: Project) -> None:
    probe = ("import json, os\n"
             "def is_open(fd):\n"
             "    try:\n        os.fstat(fd)\n        return True\n"
             "    except OSError:\n        return False\n"
             "print('FDS ' + json.dumps([fd for fd in range(3, 1024) if is_open(fd)]))\n")
    project.yaml({"t": {"command": [PY, "-c", probe], "tty": True},
                  "t2": {"command": [PY, "-c", "import time; time.sleep(0.5)"], "tty": True},
                  "plain": {"command": [PY, "-c", "import time; time.sleep(0.3)\n" + probe]}})
    result = project.run(*ARGS)
    assert result.rc == 0, result.dump()
    assert result.of("t") == ["FDS []"], result.dump()
    assert result.of("plain") == ["FDS []"], "another service's pty master leaked"


def test_nothing_is_lost_when_a_tty_service_prints_a_lot_and_exits(project: Project) -> None:
    project.yaml({"t": {"command": py("""
        import sys
        for i in range(10000):
            sys.stdout.write(f"line {i:05d} " + "x" * 60 + "\\n")
    """), "tty": True}})
    result = project.run(*ARGS, timeout=60)
    assert result.rc == 0, result.dump()
    lines = result.of("t")
    assert lines == [f"line {i:05d} " + "x" * 60 for i in range(10000)], \
        (len(lines), lines[-3:])


def _terminal(project: Project, *args: str, size: tuple[int, int] = (24, 80)) -> OnTerminal:
    return OnTerminal([PY, "-m", "orchestra", "up", *ARGS, *args], project.root, project.env(),
                      size=size)


def test_the_pty_takes_orchestras_size_and_follows_its_resizes(project: Project) -> None:
    project.yaml({"t": {"command": py(RESIZED), "tty": True}})
    term = _terminal(project, size=(31, 101))
    try:
        term.wait_for(rb"t +\| SIZE 31x101\r?\n")
        term.resize(42, 133)   # the kernel: SIGWINCH to orchestra, which resizes t's pty
        term.wait_for(rb"t +\| SIZE 42x133\r?\n")
        term.type(b"\x03")
        assert term.wait() == 130, term.text()
    finally:
        term.close()


RECORDER = """
    import os, signal, sys, time
    def record(signum, frame):
        with open(sys.argv[1], "a") as f:
            f.write(signal.Signals(signum).name + "\\n")
        if signum == signal.SIGTERM:
            sys.exit(0)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, record)
    print("ready", os.getpid(), flush=True)
    while True:
        time.sleep(1)
"""


def test_ctrl_c_stops_a_tty_service_with_one_stop_signal(project: Project, tmp_path: Path) -> None:
    """^C on orchestra's terminal is orchestra's SIGINT only: the service, on a terminal of its
    own, gets exactly its stop signal, and nothing is left."""
    signals = tmp_path / "signals"
    project.yaml({"t": {"command": [*py(RECORDER), str(signals)], "tty": True}})
    term = _terminal(project)
    try:
        pid = int(term.wait_for(rb"t +\| ready (\d+)")[1])
        term.type(b"\x03")
        assert term.wait() == 130, term.text()
        assert signals.read_text().split() == ["SIGTERM"], term.text()
        assert wait_gone([pid], 5) == []
    finally:
        term.close()


@pytest.mark.parametrize(("flag", "shown", "not_shown"), [
    ((), b"\x1b[31mred\x1b[0m up^[[1Agone", b"\x1b[1A"),
    (("--raw",), b"\x1b[31mred\x1b[0m up\x1b[1Agone", b"^["),
])
def test_colours_are_kept_and_other_escapes_neutralised_unless_raw(
        project: Project, flag: tuple[str, ...], shown: bytes, not_shown: bytes) -> None:
    project.yaml({"t": {"command": py(r"""print("\x1b[31mred\x1b[0m up\x1b[1Agone")"""),
                        "tty": True}})
    term = _terminal(project, *flag)
    try:
        assert term.wait() == 0, term.text()
        line = term.wait_for(rb"^t +\| (.*)\r\n")[1]
        assert shown in line and not_shown not in line, line
    finally:
        term.close()


def test_a_sigkilled_orchestra_leaves_no_tty_service(project: Project) -> None:
    project.yaml({"t": {"command": py("import time; print('up', flush=True); time.sleep(60)"),
                        "tty": True}})
    orch = project.start(*ARGS)
    orch.wait_for(r"^t +\| up$")
    assert leftovers(project.mark), "the service should be running"
    orch.send(signal.SIGKILL)
    assert wait_no_leftovers(project.mark, 10) == []


def test_a_tty_service_in_a_stop_wave_gets_its_stop_signal_on_its_group(
        project: Project) -> None:
    """The service is a session leader: its group is its pid, as for any service, so the stop
    signal reaches what it started too."""
    project.yaml({"t": {"command": "sleep 60 & echo started; wait", "tty": True}})
    orch = project.start(*ARGS)
    orch.wait_for(r"^t +\| started$")
    orch.send(signal.SIGTERM)
    result = orch.wait(15)
    assert result.rc == 143, result.dump()
    assert wait_no_leftovers(project.mark, 5) == []


def test_run_gives_a_with_service_a_terminal_and_refuses_tty_without_with(
        project: Project) -> None:
    project.yaml({"t": {"command": py("""
        import os, time
        print("TTY", os.isatty(1), flush=True)
        time.sleep(30)
    """), "readiness": {"log": "TTY"}}})
    run = [PY, "-m", "orchestra", "run", *ARGS]
    alone = subprocess.run([*run, "--tty", "t", "true"], cwd=project.root, env=project.env(),
                           capture_output=True, timeout=20, check=False)
    assert alone.returncode == 2, alone
    assert b"--tty names services started --with the command" in alone.stderr
    with_t = subprocess.run([*run, "--with", "t", "--tty", "t", "--", "true"],
                            cwd=project.root, env=project.env(), capture_output=True,
                            timeout=20, check=False)
    assert with_t.returncode == 0, with_t
    assert b"t      | TTY True" in with_t.stderr, with_t.stderr.decode()


#: A job in a process group of its own on the service's terminal, as a shell with job control
#: (`bash -i`, then `sleep 100 &`) makes it: in the service's session, not in its group.
JOB = """
    import os, time
    pid = os.fork()
    if pid == 0:
        os.setpgid(0, 0)
        time.sleep(60)
        os._exit(0)
    os.setpgid(pid, pid)
    print("job", pid, os.getpgid(pid) != os.getpgrp(), os.getsid(pid) == os.getpid(),
          flush=True)
    time.sleep(60)
"""


@pytest.mark.parametrize("stop", ["SIGTERM to orchestra", "the service exits"])
def test_a_job_in_its_own_group_on_the_services_terminal_is_stopped_too(
        project: Project, stop: str) -> None:
    """The terminal's session is the service's, as a tmux pane's is its shell's: whatever runs
    in it ends with the service's run, whichever group it is in (`nothing outlives
    orchestra`). A process that left the session (setsid) is outside it, as for pipes."""
    project.yaml({"t": {"command": py(JOB), "tty": True, "stop_timeout": "2s"},
                  "keep": {"command": py("import time; time.sleep(60)")}})
    orch = project.start(*ARGS)
    found = orch.wait_for(r"^t +\| job (\d+) (\w+) (\w+)$")
    job = int(found[1])
    assert found.group(2, 3) == ("True", "True"), "another group of the service's session"
    if stop == "the service exits":   # killed from outside, as a crash: the stack then stops
        os.kill(int(orch.wait_for(r"t: started pid=(\d+)")[1]), signal.SIGKILL)
    else:
        orch.send(signal.SIGTERM)
    result = orch.wait(15)
    assert result.rc == (137 if stop == "the service exits" else 143), result.dump()
    assert wait_gone([job], 5) == [], result.dump()
    assert "left in its terminal's session" in result.text, result.dump()
    assert wait_no_leftovers(project.mark, 5) == []
