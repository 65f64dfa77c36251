"""`orchestra up --detach`: the stack runs in the background, and the command returns once it
is up (every service started; with `--wait`, every service ready and every one-shot done).

The stack is forked twice (a new session in between, so it has no controlling terminal and is
nobody's child but init's); it tells the waiting command how the start went over a pipe, one
line: `ok TEXT` or `failed TEXT`. When it fails before it is up, it stops itself, and the pipe
closes when it is gone, so the command returns only when nothing is left running.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from orchestra.errors import OrchestraError


@dataclass(frozen=True, slots=True)
class Detached:
    """How a detached stack reports: the pipe to the waiting command, and what it waits for."""

    status_fd: int
    wait: bool            # --wait: ready (and one-shots done), not only started
    log_dir: Path


def state_folder(project: str, environ: dict[str, str] | os._Environ[str]) -> Path:
    """`$XDG_STATE_HOME/orchestra/PROJECT` (default `~/.local/state/...`): the log files."""
    base = environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"),
                                                         ".local", "state")
    return Path(base) / "orchestra" / project


def prepare_log_dir(folder: Path) -> None:
    """Make the folder (0700), or check that an existing one is not writable by others; an
    existing folder's mode is left alone (it may be shared or served).

    Every folder made on the way is 0700 too (`mkdir(parents=True)` would make them as the
    umask says, 0755: `~/.local/state/orchestra` listing every project to other users)."""
    try:
        if not folder.exists():
            for missing in reversed([folder, *folder.parents]):
                if not missing.exists():
                    missing.mkdir(mode=0o700)
                    os.chmod(missing, 0o700)
            return
        if not folder.is_dir():
            raise OrchestraError(f"--log-dir {folder} is not a folder")
        if folder.stat().st_mode & 0o022:
            raise OrchestraError(f"--log-dir {folder} may be written by other users; choose a "
                                 "folder only you can write to")
    except OSError as exc:
        raise OrchestraError(f"--log-dir {folder}: {exc.strerror or exc}") from None


def start_detached(run_stack: Callable[[int], int], on_interrupt: Callable[[], None],
                   keep_fds: tuple[int, ...] = ()) -> int:
    """Run `run_stack(status_fd)` in a daemon; here, wait for its report, print it, and return
    0 once it is up, 1 if it failed (after it is gone). Ctrl-C while waiting calls
    `on_interrupt` (which stops the stack) and returns 130: nothing is left running behind
    a command the user gave up on."""
    sys.stdout.flush()
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    first = os.fork()
    if first == 0:   # the intermediate process: a session of its own, then the daemon
        code = 1
        try:
            os.close(read_end)
            os.setsid()
            if os.fork() == 0:
                _detach_streams()
                _close_inherited(keep=(write_end, *keep_fds))
                try:
                    code = run_stack(write_end)
                except BaseException as exc:   # stderr is /dev/null: say it on the pipe
                    report_failure(write_end, f"the stack could not run: {exc!r}")
                    code = 1
            else:
                code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    os.waitpid(first, 0)
    try:
        with os.fdopen(read_end, "rb") as status:
            report = status.readline().decode("utf-8", "replace").rstrip("\n")
            status.read()   # a failed start closes the pipe once the stack is gone
    except KeyboardInterrupt:
        print("interrupted: stopping the stack", file=sys.stderr)
        on_interrupt()
        return 130
    verdict, _, text = report.partition(" ")
    if verdict == "ok":
        print(text, file=sys.stderr)
        return 0
    print(f"error: {text or 'the stack ended before it was up'}", file=sys.stderr)
    return 1


def _close_inherited(keep: tuple[int, ...]) -> None:
    """The daemon holds no fd of its caller's (a CI runner's pipe would never see its end)."""
    last = 3
    for fd in sorted(keep):
        if fd >= last:
            os.closerange(last, fd)
            last = fd + 1
    os.closerange(last, os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 1024)


def report_failure(status_fd: int, text: str) -> None:
    with contextlib.suppress(OSError):
        os.write(status_fd, f"failed {text}\n".encode())


def _detach_streams() -> None:
    """No terminal, no inherited output: stdin, stdout and stderr are /dev/null."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)


def report(detached: Detached, ok: bool, text: str) -> None:
    """Tell the waiting command; closes the pipe for a success (a failure's stays open until
    the stack is gone, so the command returns only then)."""
    with contextlib.suppress(OSError):
        os.write(detached.status_fd, f"{'ok' if ok else 'failed'} {text}\n".encode())
    if ok:
        with contextlib.suppress(OSError):
            os.close(detached.status_fd)
