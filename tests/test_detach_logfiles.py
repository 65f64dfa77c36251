"""A detached stack's log files are written off the event loop: a stalled disk holds back
the services' output (bounded memory, nothing lost) but never the stack itself."""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers.cli import Cli
from helpers.orch import Orchestra, Project, py

LINES = 80_000          # of 100 bytes: 8 MB, under the 10 MB at which a log file is rotated
CHATTY = py(f"""
    import sys, time
    for i in range({LINES}):
        sys.stdout.write(f"{{i:08d}} " + "x" * 91 + "\\n")
        if i % 500 == 0:
            sys.stdout.flush()
            with open("progress.tmp", "w") as f:
                f.write(str(i))
            import os; os.replace("progress.tmp", "progress")
    sys.stdout.flush()
    with open("progress.tmp", "w") as f:
        f.write("done")
    import os; os.replace("progress.tmp", "progress")
    time.sleep(120)
""")


@pytest.fixture
def cli(project: Project, runtime: Path) -> Iterator[Cli]:
    tool = Cli(project, {"XDG_RUNTIME_DIR": str(runtime)})
    yield tool
    tool.close()


def _progress(project: Project) -> str:
    try:
        return (project.root / "progress").read_text()
    except FileNotFoundError:
        return ""


def _stalled_progress(project: Project, timeout: float) -> str:
    """The service's progress once it has stopped moving for a second (its writes block)."""
    deadline = time.monotonic() + timeout
    last, since = _progress(project), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = _progress(project)
        if now != last:
            last, since = now, time.monotonic()
        elif now and time.monotonic() - since >= 1.0:
            return now
    raise AssertionError(f"the service never stalled within {timeout:g} s (progress {last!r})")


def _read_until_eof(fd: int, timeout: float, when_done: Callable[[], None],
                    project: Project) -> bytes:
    """Read the FIFO to its end; once the service says it printed everything, call
    `when_done` (which stops the stack, so that the file is closed)."""
    data = bytearray()
    deadline = time.monotonic() + timeout
    done = False
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"the log file was not closed within {timeout:g} s "
                                 f"({len(data)} bytes read, progress {_progress(project)!r})")
        if not done and _progress(project) == "done":
            done = True
            when_done()
        ready, _, _ = select.select([fd], [], [], min(remaining, 0.1))
        if ready:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return bytes(data)
            data.extend(chunk)


def test_a_stalled_log_file_holds_back_output_but_not_the_stack(
        cli: Cli, project: Project, tmp_path: Path) -> None:
    """The log file is a FIFO nobody reads: a disk that takes no more. The stack still
    answers `ps` and stops on `down`; the service is held back once the backlog reaches its
    bound (it does not run on to its end with everything in orchestra's memory); once the
    file is read again, the service goes on, and every line it printed arrives, in order."""
    folder = tmp_path / "logs"
    folder.mkdir(mode=0o700)
    os.mkfifo(folder / "chatty.log", 0o600)
    reader = os.open(folder / "chatty.log", os.O_RDONLY | os.O_NONBLOCK)
    try:
        project.yaml({"chatty": {"command": CHATTY}})
        started = cli.run("up", "-D", "--log-dir", str(folder), timeout=30)
        assert started.rc == 0, started.dump()
        stalled = _stalled_progress(project, timeout=30)
        assert stalled != "done" and int(stalled) < LINES * 3 // 4, stalled
        ps = cli.run("ps", timeout=10)   # the control socket is served by the event loop
        assert ps.rc == 0 and "chatty" in ps.text and "running" in ps.text, ps.dump()
        stopped: list[Orchestra] = []
        data = _read_until_eof(reader, 60, lambda: stopped.append(cli.start("down")), project)
        assert stopped and stopped[0].wait(30).rc == 0
    finally:
        os.close(reader)
    lines = data.decode().splitlines()
    assert len(lines) == LINES
    assert [int(line.split()[0]) for line in lines] == list(range(LINES))
    assert all(line.endswith(" " + "x" * 91) for line in lines)


def test_the_log_folder_and_the_folders_made_for_it_are_owner_only(tmp_path: Path) -> None:
    """Before the fix `$XDG_STATE_HOME/orchestra` was made 0755, listing every project."""
    from orchestra.runtime.detach import prepare_log_dir, state_folder

    state = tmp_path / "state"
    folder = state_folder("web-0123abcd", {"XDG_STATE_HOME": str(state)})
    previous = os.umask(0o022)
    try:
        prepare_log_dir(folder)
    finally:
        os.umask(previous)
    for made in (state, state / "orchestra", folder):
        assert made.stat().st_mode & 0o777 == 0o700, f"{made}: {oct(made.stat().st_mode)}"
