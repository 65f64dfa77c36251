"""orchestra's own standard streams: closed, full, or run from a deleted directory.

Each case ends in one line on stderr and a non-zero exit, never a traceback, and starts nothing
(or stops what it started).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from helpers.orch import PY, Project, describe, wait_no_leftovers

from orchestra.output.mux import Multiplexer
from orchestra.output.options import OutputOptions

COMMANDS = [("up",), ("run", "--", "true"), ("run", "--with", "web", "--", "true"),
            ("check",), ("config",), ("graph",), ("version",)]


def orchestra(project: Project, shell: str, *args: str, stdout: int | None = None,
              timeout: float = 20.0) -> subprocess.CompletedProcess[bytes]:
    """`orchestra ARGS` started by `sh -c SHELL` (which ends in `exec "$@"`): the shell sets
    up the odd stream or directory, as a user's shell would."""
    return subprocess.run(["sh", "-c", shell, "sh", PY, "-m", "orchestra", *args],
                          cwd=project.root, env=project.env(), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE if stdout is None else stdout,
                          stderr=subprocess.PIPE, timeout=timeout, check=False)


def started_marker(project: Project) -> Path:
    """A service that leaves a file when it starts, and stays up."""
    marker = project.root / "started"
    project.yaml({"web": {"command": f"touch {marker}; echo hello; exec sleep 30"}})
    return marker


def nothing_left(project: Project) -> None:
    left = wait_no_leftovers(project.mark, 5.0)
    assert not left, f"still running: {describe(left)}"


@pytest.mark.parametrize("args", COMMANDS)
def test_closed_stdout_is_one_line_and_starts_nothing(project: Project,
                                                      args: tuple[str, ...]) -> None:
    marker = started_marker(project)
    result = orchestra(project, 'exec "$@" >&-', *args)
    err = result.stderr.decode()
    assert result.returncode == 1, err
    assert err == "error: standard output is closed; nothing was started\n"
    assert not marker.exists()


def test_closed_stdin_and_stderr_do_not_break_a_run(project: Project) -> None:
    """A closed fd 0 or 2 is filled with /dev/null: `run` reads stdin, `up` prints."""
    started_marker(project)
    result = orchestra(project, 'exec "$@" <&- 2>&-', "run", "--", "sh", "-c", "echo ran")
    assert result.returncode == 0, result
    assert result.stdout == b"ran\n"


@pytest.mark.parametrize("args", COMMANDS)
def test_deleted_working_directory_is_one_line(project: Project, args: tuple[str, ...]) -> None:
    marker = started_marker(project)
    result = orchestra(project, 'mkdir gone && cd gone && rmdir ../gone && exec "$@"', *args)
    err = result.stderr.decode()
    if args == ("version",):   # needs no directory
        assert result.returncode == 0, err
        return
    assert result.returncode == 1, err
    assert err == ("error: the current directory no longer exists (was it deleted?); "
                   "cd to an existing one\n")
    assert not marker.exists()


@pytest.mark.parametrize("args", [a for a in COMMANDS if a[0] != "run"])
def test_a_full_disk_says_so_and_stops_the_services(project: Project,
                                                     args: tuple[str, ...]) -> None:
    started_marker(project)
    with open("/dev/full", "wb") as full:
        result = orchestra(project, 'exec "$@"', *args, stdout=full.fileno())
    err = result.stderr.decode()
    assert result.returncode == 1, err
    assert err.endswith("error: cannot write output: No space left on device\n"), err
    assert "Traceback" not in err
    nothing_left(project)


def test_a_reader_that_went_away_needs_no_message(project: Project) -> None:
    started_marker(project)
    result = orchestra(project, 'exec "$@" | head -c1', "up", timeout=20.0)
    assert b"cannot write output" not in result.stderr, result.stderr
    nothing_left(project)


def test_the_multiplexer_keeps_the_error_that_broke_it() -> None:
    """A full disk is reported ("No space left on device"); a reader that went away is not."""
    with open("/dev/full", "wb") as full:
        mux = Multiplexer(full.fileno(), ["web"], OutputOptions())
        mux.feed("web", "stdout", b"hello\n")
        mux.flush()
    assert mux.broken and mux.write_error == "No space left on device"

    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        mux = Multiplexer(write_end, ["web"], OutputOptions())
        mux.feed("web", "stdout", b"hello\n")
        mux.flush()
    finally:
        os.close(write_end)
    assert mux.broken and mux.write_error is None
