"""`orchestra attach SERVICE`: a terminal (a pty driven by the test) on a `tty: true` service of
a running stack, through the control socket; detaching leaves everything running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import termios
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.cli import TEXT, Cli
from helpers.orch import PY, Orchestra, Project, alive, py, select_read
from helpers.terminal import OnTerminal

from orchestra.control.paths import project_name, socket_path
from orchestra.control.peers import PEERS_CHECKED

ECHO = 'echo ready; while read line; do echo "got $line"; done'
#: Says which signals reach it, and its size, and echoes lines.
PYECHO = """
    import os, signal, sys
    def show(signum, frame):
        size = os.get_terminal_size(0)
        print(signal.Signals(signum).name, f"{size.lines}x{size.columns}", flush=True)
    signal.signal(signal.SIGINT, show)
    signal.signal(signal.SIGWINCH, show)
    print("ready", flush=True)
    for line in sys.stdin:
        print("got", line.strip(), flush=True)
"""


@pytest.fixture
def cli(project: Project, runtime: Path) -> Iterator[Cli]:
    tool = Cli(project, {"XDG_RUNTIME_DIR": str(runtime)})
    yield tool
    tool.close()


@pytest.fixture
def terminals() -> Iterator[list[OnTerminal]]:
    started: list[OnTerminal] = []
    yield started
    for term in started:
        term.close()


def _stack(cli: Cli, project: Project, services: dict[str, object]) -> Orchestra:
    project.yaml(services)
    up = cli.start("up", *TEXT)
    for name in services:
        up.wait_for(rf"^{name}(\.1)? +\| ready")
    return up


def _attach(cli: Cli, terminals: list[OnTerminal], service: str, *,
            size: tuple[int, int] = (24, 80)) -> OnTerminal:
    term = OnTerminal([PY, "-m", "orchestra", "attach", service], cli.project.root,
                      cli.project.env(cli.base_env), size=size)
    terminals.append(term)
    return term


def _pid(cli: Cli, name: str) -> int:
    rows = json.loads(cli.run("ps", "--format", "json").text)
    return next(int(row["pid"]) for row in rows if row["name"] == name)


def test_keys_reach_the_service_and_ctrl_bracket_detaches(
        cli: Cli, project: Project, terminals: list[OnTerminal]) -> None:
    up = _stack(cli, project, {"echo": {"command": ECHO, "tty": True}})
    pid = _pid(cli, "echo")
    term = _attach(cli, terminals, "echo")
    before = termios.tcgetattr(term.master)
    term.wait_for(rf"attached to echo \(pid {pid}\); Ctrl-\] detaches".encode())
    term.type(b"hello\r")
    term.wait_for(rb"got hello\r\n")
    up.wait_for(r"^echo +\| got hello$")   # the stack's own output goes on meanwhile
    assert b"echo |" not in term.seen, "attach shows the output as written, not prefixed"
    term.type(b"\x1d")
    assert term.wait(10) == 0, term.text()
    assert b"detached; the service keeps running" in term.seen
    assert termios.tcgetattr(term.master) == before, "the terminal was left raw"
    assert _pid(cli, "echo") == pid and alive(pid)
    assert cli.run("down").rc == 0
    assert up.wait(10).rc == 0


def test_ctrl_c_and_resizes_reach_the_service_not_attach(
        cli: Cli, project: Project, terminals: list[OnTerminal]) -> None:
    up = _stack(cli, project, {"shell": {"command": py(PYECHO), "tty": True}})
    term = _attach(cli, terminals, "shell", size=(33, 91))
    term.wait_for(rb"Ctrl-\] detaches")
    term.type(b"\x03")   # a byte for the service's terminal, which makes it its SIGINT
    term.wait_for(rb"SIGINT 33x91\r\n")
    term.resize(44, 121)   # attach's SIGWINCH, sent on as a resize of the service's pty
    term.wait_for(rb"SIGWINCH 44x121\r\n")
    term.type(b"still here\r")
    term.wait_for(rb"got still here\r\n")
    assert term.proc.poll() is None, "Ctrl-C must not end attach"
    term.type(b"\x1d")
    assert term.wait(10) == 0, term.text()
    assert cli.run("down").rc == 0
    assert up.wait(10).rc == 0


def test_the_end_of_the_service_ends_the_attach_and_restores_the_terminal(
        cli: Cli, project: Project, terminals: list[OnTerminal]) -> None:
    up = _stack(cli, project, {
        "once": {"command": 'echo ready; read line; echo "bye $line"', "tty": True},
        "web": {"command": "echo ready; sleep 60"}})
    term = _attach(cli, terminals, "once")
    before = termios.tcgetattr(term.master)
    term.wait_for(rb"Ctrl-\] detaches")
    term.type(b"now\r")
    term.wait_for(rb"bye now\r\n")
    assert term.wait(10) == 0, term.text()
    assert b"once ended; its terminal is closed" in term.seen, term.text()
    assert termios.tcgetattr(term.master) == before
    assert cli.run("down").rc == 0
    assert up.wait(10).rc == 0


def test_the_end_of_the_stack_ends_the_attach(
        cli: Cli, project: Project, terminals: list[OnTerminal]) -> None:
    up = _stack(cli, project, {"echo": {"command": ECHO, "tty": True}})
    term = _attach(cli, terminals, "echo")
    term.wait_for(rb"Ctrl-\] detaches")
    assert cli.run("down").rc == 0
    assert term.wait(10) == 0, term.text()
    term.wait_for(rb"(echo ended; its terminal is closed|the stack stopped)\r?\n")
    assert up.wait(10).rc == 0


def test_several_clients_see_the_output_and_may_type(
        cli: Cli, project: Project, terminals: list[OnTerminal]) -> None:
    up = _stack(cli, project, {"echo": {"command": ECHO, "tty": True}})
    first, second = _attach(cli, terminals, "echo"), _attach(cli, terminals, "echo")
    for term in (first, second):
        term.wait_for(rb"Ctrl-\] detaches")
    first.type(b"one\r")
    second.type(b"two\r")
    for term in (first, second):
        term.wait_for(rb"got one\r\n")
        term.wait_for(rb"got two\r\n")
        term.type(b"\x1d")
        assert term.wait(10) == 0
    assert cli.run("down").rc == 0
    assert up.wait(10).rc == 0


def test_a_service_without_a_terminal_is_refused_in_one_line(
        cli: Cli, project: Project) -> None:
    up = _stack(cli, project, {"web": {"command": "echo ready; sleep 60"},
                               "echo": {"command": ECHO, "tty": True, "replicas": 2}})
    refused = cli.run("attach", "web")
    assert refused.rc == 1, refused.dump()
    assert refused.err.decode().splitlines() == [
        "error: web has no terminal; set `tty: true` for it in the config (or start the stack "
        "with `--tty web`) to attach"]
    several = cli.run("attach", "echo")
    assert several.rc == 1 and b"names 2 instances (echo.1, echo.2)" in several.err
    assert cli.run("attach", "nope").rc == 1
    assert cli.run("down").rc == 0
    assert up.wait(10).rc == 0


def test_attach_with_stdin_a_pipe_sends_bytes_without_raw_mode(
        cli: Cli, project: Project) -> None:
    up = _stack(cli, project, {"echo": {"command": ECHO, "tty": True}})
    pid = _pid(cli, "echo")
    client = subprocess.Popen([PY, "-m", "orchestra", "attach", "echo"], cwd=project.root,
                              env=project.env(cli.base_env), stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert client.stdin is not None and client.stdout is not None
        client.stdin.write(b"piped\n")
        client.stdin.close()   # its end stops the sending; the output still comes
        seen = b""
        while b"got piped" not in seen:
            chunk = select_read(client.stdout.fileno(), 10)
            assert chunk, seen
            seen += chunk
        assert client.poll() is None
        client.send_signal(signal.SIGTERM)
        assert client.wait(10) == 128 + signal.SIGTERM
        assert b"detached (SIGTERM); the service keeps running" in client.stderr.read()
    finally:
        if client.poll() is None:
            client.kill()
            client.wait(5)
    assert _pid(cli, "echo") == pid and alive(pid)
    assert cli.run("down").rc == 0
    assert up.wait(10).rc == 0


def test_a_restart_ends_the_attach(cli: Cli, project: Project,
                                   terminals: list[OnTerminal]) -> None:
    up = _stack(cli, project, {"echo": {"command": ECHO, "tty": True}})
    term = _attach(cli, terminals, "echo")
    term.wait_for(rb"Ctrl-\] detaches")
    assert cli.run("restart", "echo").rc == 0
    assert term.wait(10) == 0, term.text()
    assert b"echo ended; its terminal is closed" in term.seen
    again = _attach(cli, terminals, "echo")   # the new run has a terminal of its own
    again.wait_for(rb"Ctrl-\] detaches")
    again.type(b"new\r")
    again.wait_for(rb"got new\r\n")
    again.type(b"\x1d")
    assert again.wait(10) == 0
    assert cli.run("down").rc == 0
    assert up.wait(10).rc == 0


SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.mark.skipif(os.getuid() != 0 or not os.access(SYSTEM_PYTHON, os.X_OK),
                    reason="needs root and a system python to run a client as another user")
@pytest.mark.skipif(not PEERS_CHECKED, reason="the platform names no peer (docs/CONTROL.md)")
def test_another_user_cannot_attach(cli: Cli, project: Project, runtime: Path) -> None:
    up = _stack(cli, project, {"echo": {"command": ECHO, "tty": True}})
    path = Path(socket_path(project_name(str(project.root)), {"XDG_RUNTIME_DIR": str(runtime)}))
    for folder in (runtime, path.parent):
        os.chmod(folder, 0o711)
    os.chmod(path, 0o666)
    code = ("import socket, sys\ns = socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\n"
            "try:\n"
            "    s.sendall(b'{\"command\": \"attach\", \"services\": [\"echo\"]}\\n'\n"
            "              b'd\\x00\\x00\\x00\\x06typed\\r')\n"
            "except OSError:\n"
            "    pass\n"
            "print(s.makefile('rb').readline().decode())")
    nobody = subprocess.run([SYSTEM_PYTHON, "-c", code, str(path)], capture_output=True,
                            text=True, timeout=10, user="nobody", cwd="/", check=False)
    assert nobody.returncode == 0, nobody.stderr
    assert json.loads(nobody.stdout) == {
        "ok": False, "error": "permission denied: not the owner of this stack"}
    os.chmod(path.parent, 0o700)
    assert "got typed" not in up.output()
    assert cli.run("down").rc == 0
    assert up.wait(10).rc == 0


@pytest.mark.parametrize("stdin", ["a file", "/dev/null"])
def test_attach_with_stdin_a_file_or_dev_null_sends_it_and_shows_the_output(
        cli: Cli, project: Project, stdin: str) -> None:
    """A regular file or /dev/null cannot be watched by epoll (EPERM): attach reads it to its
    end at once instead of breaking the link (`orchestra attach web < keys.txt`, cron)."""
    up = _stack(cli, project, {"echo": {"command": ECHO, "tty": True}})
    pid = _pid(cli, "echo")
    keys = project.root / "keys.txt"
    keys.write_bytes(b"from a file\n")
    source = keys if stdin == "a file" else Path(os.devnull)
    expected = b"got from a file" if stdin == "a file" else b"attached to echo"
    with open(source, "rb") as given:
        client = subprocess.Popen([PY, "-m", "orchestra", "attach", "echo"], cwd=project.root,
                                  env=project.env(cli.base_env), stdin=given,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert client.stdout is not None
        seen = b""
        while expected not in seen:
            chunk = select_read(client.stdout.fileno(), 10)
            assert chunk, seen
            seen += chunk
        cli.run("restart", "echo")   # the end of the run ends the attach, as for a pipe
        assert client.wait(10) == 0, seen + client.stdout.read()
        seen += client.stdout.read()
        assert b"echo ended; its terminal is closed" in seen, seen
        assert b"Operation not permitted" not in seen, seen
    finally:
        if client.poll() is None:
            client.kill()
            client.wait(5)
    assert alive(_pid(cli, "echo")) and _pid(cli, "echo") != pid
    assert cli.run("down").rc == 0
    assert up.wait(10).rc == 0


def test_attach_first_shows_the_prompt_that_waits(cli: Cli, project: Project,
                                                   terminals: list[OnTerminal]) -> None:
    """A debugger stopped before anyone attached waits at its prompt: attach shows the end of
    what the terminal printed (from the start of a line, at most `RECENT_OUTPUT`), so the
    prompt is on screen without typing a key blind."""
    from orchestra.runtime.terminal import RECENT_OUTPUT

    filler = "".join(f"old line {n:04d}\\n" for n in range(400))   # 6 KiB before the prompt
    up = _stack(cli, project, {"dbg": {
        "command": f"printf '{filler}'; echo '> app.py(5)<module>()'; echo ready; "
                   "printf '(Pdb) '; read line; echo \"got $line\"; sleep 60",
        "tty": True}})
    up.wait_for(r"^dbg +\| ready$")
    term = _attach(cli, terminals, "dbg")
    shown = term.wait_for(rb"Ctrl-\] detaches\r\n((?:.|\n)*)\(Pdb\) ")
    replay = shown.group(1)
    assert replay.endswith(b"> app.py(5)<module>()\r\nready\r\n"), replay
    assert replay.startswith(b"old line "), "the replay starts at the start of a line"
    assert len(replay) <= RECENT_OUTPUT, len(replay)
    term.type(b"p 1+1\r")
    term.wait_for(rb"got p 1\+1\r\n")
    term.type(b"\x1d")
    assert term.wait(10) == 0, term.text()
    assert cli.run("down").rc == 0
    assert up.wait(10).rc == 0


def test_leaving_resets_the_modes_the_service_set_on_this_terminal(
        cli: Cli, project: Project, terminals: list[OnTerminal]) -> None:
    """The service's output reaches this terminal as it is: a colour, a hidden cursor, mouse
    reports, bracketed paste it turned on would stay on in the user's shell after Ctrl-].
    attach turns them off as it leaves (the terminal is restored, as documented)."""
    up = _stack(cli, project, {"fancy": {
        "command": r"printf '\033[?25l\033[?1000h\033[?2004h\033[31mred\n'; echo ready; "
                   "sleep 60",
        "tty": True}})
    term = _attach(cli, terminals, "fancy")
    term.wait_for(rb"red")
    term.type(b"\x1d")
    assert term.wait(10) == 0, term.text()
    left = term.seen[term.seen.rindex(b"red"):]
    for reset in (b"\x1b[0m", b"\x1b[?25h", b"\x1b[?1000l", b"\x1b[?2004l"):
        assert reset in left, (reset, left)
    assert left.index(b"\x1b[0m") < left.index(b"detached; the service keeps running")
    assert cli.run("down").rc == 0
    assert up.wait(10).rc == 0
