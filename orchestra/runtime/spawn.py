"""The only module that creates processes (DESIGN §3.1).

Every child is started by fork+exec (`subprocess.Popen`, which uses vfork where it can) in a
process group of its own, so a signal can reach the whole group and a terminal's Ctrl-C reaches
only orchestra. Children get stdin from /dev/null, pipes for stdout and stderr, and no other fd
(`close_fds=True`; orchestra's own fds are close-on-exec anyway). `preexec_fn` is never used: it
is unsafe with threads and defeats vfork.

A `tty: true` service gets a pseudo-terminal instead (`runtime/terminal.py`): the slave as its
stdin, stdout and stderr, in a session of its own (so its process group is its pid, as for
the others) with the slave as its controlling terminal. Making it that takes one ioctl in the
child, which Popen cannot do, so a few lines of Python run in between (`TTY_EXEC_HELPER`, about
20 ms, once per start of such a service) and exec the service.

Children should start with default signal dispositions and an empty signal mask.  exec() resets
handled signals to their defaults but keeps ignored ones ignored, so `prepare_parent()` swaps
any disposition orchestra inherited as "ignore" (e.g. SIGINT/SIGQUIT under `nohup` or `&`) for a
do-nothing handler, which exec() then resets to the default, and clears orchestra's own mask.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import IO, TYPE_CHECKING, Protocol

from orchestra.runtime.shellwords import (
    as_shell_passes_it,
    exec_plain_command,
    find_program,
    plain_words,
)
from orchestra.runtime.watchdog import WATCHDOG_SCRIPT

if TYPE_CHECKING:   # imported by the spawn of a `tty: true` service: termios and the rest
    from orchestra.runtime.terminal import Terminal

#: Signals whose inherited "ignore" must not leak into children (SIGPIPE is restored by Popen).
_RESETTABLE = tuple(s for s in signal.Signals
                    if s not in (signal.SIGKILL, signal.SIGSTOP, signal.SIGPIPE, signal.SIGCHLD)
                    and s < getattr(signal, "SIGRTMIN", 65))   # no SIGRTMIN on macOS


def _ignore(signum: int, frame: object) -> None:
    """Stands in for SIG_IGN in orchestra itself; exec() turns it into SIG_DFL in children."""


def prepare_parent() -> None:
    """Make the state children inherit clean: empty mask, no inherited ignores."""
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    # An inherited SIGCHLD "ignore" would make the kernel reap children behind our back.
    if signal.getsignal(signal.SIGCHLD) == signal.SIG_IGN:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for signum in _RESETTABLE:
        try:
            if signal.getsignal(signum) == signal.SIG_IGN:
                signal.signal(signum, _ignore)
        except (OSError, ValueError):
            continue


class SpawnError(Exception):
    """The process could not be started; `message` says why in the user's terms."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code   # what a shell would report: 127 not found, 126 not runnable


class Child:
    """A started process: its pid and its output pipes (its exit is watched by the
    process backend, `runtime/backends`). A `tty: true` service has one output, its pty's
    master (`stdout`), and no `stderr`.

    A plain class, not a dataclass: it is a handle, never compared or printed, and a
    dataclass costs every start ~0.4 ms to create (see runtime/events.py)."""

    __slots__ = ("popen", "stderr", "stdout", "terminal")

    def __init__(self, popen: subprocess.Popen[bytes], stdout: IO[bytes],
                 stderr: IO[bytes] | None, terminal: Terminal | None = None) -> None:
        self.popen = popen
        self.stdout = stdout
        self.stderr = stderr
        self.terminal = terminal

    @property
    def pid(self) -> int:
        return self.popen.pid


def _popen(argv: Sequence[str], cwd: str, env: Mapping[str, str], *, stdin: int | None,
           stdout: int | None, stderr: int | None,
           argv0: str | None = None) -> subprocess.Popen[bytes]:
    """The one Popen call: own process group, no inherited fds, default SIGPIPE/SIGXFSZ.
    `argv0`: the program's own name for itself when `argv[0]` is the path it was found at."""
    args = list(argv)
    executable = None
    if argv0 is not None:
        executable, args[0] = args[0], argv0
    return subprocess.Popen(
        args, executable=executable, cwd=cwd, env=dict(env), process_group=0,
        close_fds=True, restore_signals=True, stdin=stdin, stdout=stdout, stderr=stderr)


def _start(argv: Sequence[str], cwd: str, env: Mapping[str, str], *, stdin: int | None = None,
           stdout: int | None = None, stderr: int | None = None) -> subprocess.Popen[bytes]:
    """Start `argv`, or say why it cannot start. A stream left None is orchestra's own
    (only `orchestra run`'s command uses that)."""
    try:
        return _popen(argv, cwd, env, stdin=stdin, stdout=stdout, stderr=stderr)
    except OSError as exc:
        raise _spawn_error(exc, argv, cwd) from None


def _start_command(argv: Sequence[str], cwd: str, env: Mapping[str, str], *, stdin: int,
                   stdout: int, stderr: int) -> subprocess.Popen[bytes]:
    """`_start` for a configured command: a shell string with no shell syntax is exec'd
    without the shell (`plain_words`). If that fails (no such program, a script without `#!`,
    a directory that is not usable), the shell runs it after all, so the error, its exit code
    and the ENOEXEC fallback are the shell's own."""
    words = plain_words(argv) if "PATH" in env else None   # the shell has its own default
    program = words and find_program(words[0], cwd, env["PATH"])
    if words and program:
        with contextlib.suppress(OSError):
            return _popen([program, *words[1:]], cwd, as_shell_passes_it(env), stdin=stdin,
                          stdout=stdout, stderr=stderr, argv0=words[0])
    return _start(exec_plain_command(argv), cwd, env, stdin=stdin, stdout=stdout,
                  stderr=stderr)


class Tracker(Protocol):
    """What the lifeline must hear about a service's spawn (see `runtime/lifeline.py`)."""

    def expect(self, held: int | str | None) -> None: ...

    def track(self, pgid: int) -> None: ...


def spawn(argv: Sequence[str], cwd: str, env: Mapping[str, str], tracker: Tracker, *,
          tty: bool = False) -> Child:
    """Start a service's `argv` in `cwd` with exactly `env`, in a new process group (on a
    pseudo-terminal of its own with `tty`).

    The watchdog must know the child before it can run, but its pid exists only once it
    runs. So the stdout pipe is made here and its inode announced first (`expect`): if
    orchestra dies during the spawn, whatever holds that pipe is the child. Its group is
    listed (`track`) as soon as the spawn returns, before anything else.
    """
    if tty:
        return _spawn_on_terminal(argv, cwd, env, tracker)
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    try:
        tracker.expect(os.fstat(out_write).st_ino)
        popen = _start_command(argv, cwd, env, stdin=subprocess.DEVNULL, stdout=out_write,
                               stderr=err_write)
    except BaseException:
        os.close(out_read)
        os.close(err_read)
        tracker.expect(None)   # nothing to look for: the watchdog need not search at its end
        raise
    finally:
        os.close(out_write)
        os.close(err_write)
    tracker.track(popen.pid)
    return Child(popen, open(out_read, "rb", buffering=0),
                 open(err_read, "rb", buffering=0))


def _spawn_on_terminal(argv: Sequence[str], cwd: str, env: Mapping[str, str],
                       tracker: Tracker) -> Child:
    """`spawn` for `tty: true`: as for pipes, the watchdog hears first of what the child will
    hold (the slave's path) and then of its group. orchestra closes its slave at once, so the
    master reads end-of-file (EIO) when the service and all it started have closed theirs."""
    from orchestra.runtime.terminal import Terminal, open_pty, outer_size

    master, slave, path = open_pty(*outer_size())
    try:
        tracker.expect(path)
        popen = _start_on_terminal(argv, cwd, env, slave)
    except BaseException:
        os.close(master)
        tracker.expect(None)
        raise
    finally:
        os.close(slave)
    tracker.track(popen.pid)
    terminal = Terminal(master, path)
    return Child(popen, open(master, "rb", buffering=0), None, terminal)


def _start_on_terminal(argv: Sequence[str], cwd: str, env: Mapping[str, str],
                       slave: int) -> subprocess.Popen[bytes]:
    """Popen of the helper that makes the slave the controlling terminal, then execs `argv`.
    A program that is not there is reported here, as `spawn` reports it for pipes; a failure
    of the exec itself is the helper's message on the terminal and exit 126/127."""
    from orchestra.runtime.terminal import TTY_EXEC_HELPER

    command = exec_plain_command(argv)
    if os.path.isdir(cwd) and find_program(command[0], cwd, env.get("PATH", os.defpath)) is None:
        raise _spawn_error(FileNotFoundError(2, "No such file or directory"), command, cwd)
    lc_ctype = "=" + env["LC_CTYPE"] if "LC_CTYPE" in env else ""
    try:
        return subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", TTY_EXEC_HELPER, lc_ctype, *command], cwd=cwd,
            env=dict(env), start_new_session=True, close_fds=True, restore_signals=True,
            stdin=slave, stdout=slave, stderr=slave)
    except OSError as exc:
        raise _spawn_error(exc, command, cwd) from None


def spawn_attached(argv: Sequence[str], cwd: str,
                   env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Start `orchestra run`'s command with orchestra's stdin, stdout and stderr.

    It gets a process group of its own, like a shell's job, so that a signal can reach its
    children too; `runtime/foreground.py` makes that group the terminal's foreground group.
    """
    return _start(argv, cwd, env)


def spawn_quiet(argv: Sequence[str], cwd: str, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Start a check command (output discarded) in a new process group."""
    return _start_command(argv, cwd, env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)


def _spawn_error(exc: OSError, argv: Sequence[str], cwd: str) -> SpawnError:
    if exc.filename is not None and str(exc.filename) == str(cwd):
        return SpawnError(f"directory '{cwd}' does not exist or is not usable "
                          f"({exc.strerror})", 127)
    program = argv[0] if argv else ""
    if isinstance(exc, FileNotFoundError):
        return SpawnError(f"'{program}' not found", 127)
    if isinstance(exc, PermissionError):
        return SpawnError(f"'{program}' is not executable (permission denied)", 126)
    return SpawnError(f"'{program}' cannot be started: {exc.strerror}", 126)


def spawn_watchdog() -> tuple[subprocess.Popen[bytes], int]:
    """Start the watchdog; returns it and the write end of its lifeline (close-on-exec)."""
    read_end, write_end = os.pipe()
    try:
        popen = subprocess.Popen(
            ["/bin/sh", "-c", WATCHDOG_SCRIPT], stdin=read_end,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            process_group=0, close_fds=True, restore_signals=True, cwd="/",
        )
    finally:
        os.close(read_end)
    return popen, write_end
