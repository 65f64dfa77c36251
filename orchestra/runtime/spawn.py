"""The only module that creates processes (DESIGN §3.1).

Every child is started by fork+exec (`subprocess.Popen`, which uses vfork where it can) in a
process group of its own, so a signal can reach the whole group and a terminal's Ctrl-C reaches
only orchestra. Children get stdin from /dev/null, pipes for stdout and stderr, and no other fd
(`close_fds=True`; orchestra's own fds are close-on-exec anyway). `preexec_fn` is never used: it
is unsafe with threads and defeats vfork.

Children should start with default signal dispositions and an empty signal mask.  exec() resets
handled signals to their defaults but keeps ignored ones ignored, so `prepare_parent()` swaps
any disposition orchestra inherited as "ignore" (e.g. SIGINT/SIGQUIT under `nohup` or `&`) for a
do-nothing handler, which exec() then resets to the default, and clears orchestra's own mask.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

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


@dataclass(slots=True)
class Child:
    """A started process: its pid and its output pipes (its exit is watched by the
    process backend, `runtime/backends`)."""

    popen: subprocess.Popen[bytes]
    stdout: IO[bytes]
    stderr: IO[bytes]

    @property
    def pid(self) -> int:
        return self.popen.pid


#: A shell string made only of these characters has no expansion, quoting, redirection or
#: control flow: the shell would only split it at spaces and run the program it names.
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_./:,@%+=")
#: First words that mean something else to the shell than the program of that name: its
#: builtins (dash's, and bash's where /bin/sh is bash; `echo -e` differs from /bin/echo's)
#: and the reserved words. Such a string runs under the shell, as written.
_BUILTINS = frozenset({".", ":", "[", "alias", "bg", "break", "cd", "chdir", "command",
                       "continue", "echo", "eval", "exec", "exit", "export", "false", "fc",
                       "fg", "getopts", "hash", "jobs", "kill", "local", "printf", "pwd", "read",
                       "readonly", "return", "set", "shift", "test", "times", "trap", "true",
                       "type", "ulimit", "umask", "unalias", "unset", "wait",
                       "builtin", "declare", "disown", "let", "popd", "pushd", "shopt", "source",
                       "typeset",
                       "case", "do", "done", "elif", "else", "esac", "fi", "for", "if", "in",
                       "then", "until", "while"})
#: The environment names a POSIX shell passes on; it silently drops any other.
_SHELL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def plain_words(argv: Sequence[str]) -> list[str] | None:
    """The words of `["/bin/sh", "-c", STRING]` when STRING needs no shell, else None.

    `sh -c "web --port 80"` and exec'ing `["web", "--port", "80"]` directly differ in nothing
    but cost: the shell would split the words, find the program on the same PATH and (with
    `exec`) become it. Skipping it saves an exec of /bin/sh per service, a third of the cost
    of starting one.
    """
    if len(argv) != 3 or argv[0] != "/bin/sh" or argv[1] != "-c":
        return None
    words = argv[2].split()
    if (not words or not _PLAIN.issuperset(argv[2]) or "=" in words[0]
            or words[0] in _BUILTINS or words[0].startswith("-")):
        return None
    return words


def _as_shell_passes_it(env: Mapping[str, str]) -> dict[str, str]:
    """`env` as the shell would hand it to its program: only names it can hold."""
    return {name: value for name, value in env.items() if _SHELL_NAME.fullmatch(name)}


def _exec_plain_command(argv: Sequence[str]) -> list[str]:
    """`sh -c "web --port 80"` → `sh -c "exec web --port 80"`.

    dash, Debian's /bin/sh, forks even for the last command of a string, leaving a shell
    between orchestra and the program: one more process per service, and a signal handled by
    the shell instead of the program. For a string with no shell syntax, `exec` removes the
    shell with no other difference; anything else runs exactly as written.
    """
    if plain_words(argv) is None:
        return list(argv)
    return [argv[0], argv[1], "exec " + argv[2]]


def _find_program(word: str, cwd: Path, path: str) -> str | None:
    """The file the shell would run for `word`: the first executable regular file on `path`
    (relative entries, and a word with a '/', taken from `cwd`), as a path; None if none.
    Found here rather than by exec's own search, which would pass over a script without
    `#!` that the shell would run."""
    folders = [""] if "/" in word else path.split(":")
    for folder in folders:
        candidate = os.path.join(folder, word) if folder else word
        full = candidate if os.path.isabs(candidate) else os.path.join(cwd, candidate)
        if os.path.isfile(full) and os.access(full, os.X_OK):
            return full
    return None


def _popen(argv: Sequence[str], cwd: Path, env: Mapping[str, str], *, stdin: int | None,
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


def _start(argv: Sequence[str], cwd: Path, env: Mapping[str, str], *, stdin: int | None = None,
           stdout: int | None = None, stderr: int | None = None) -> subprocess.Popen[bytes]:
    """Start `argv`, or say why it cannot start. A stream left None is orchestra's own
    (only `orchestra run`'s command uses that)."""
    try:
        return _popen(argv, cwd, env, stdin=stdin, stdout=stdout, stderr=stderr)
    except OSError as exc:
        raise _spawn_error(exc, argv, cwd) from None


def _start_command(argv: Sequence[str], cwd: Path, env: Mapping[str, str], *, stdin: int,
                   stdout: int, stderr: int) -> subprocess.Popen[bytes]:
    """`_start` for a configured command: a shell string with no shell syntax is exec'd
    without the shell (`plain_words`). If that fails (no such program, a script without `#!`,
    a directory that is not usable), the shell runs it after all, so the error, its exit code
    and the ENOEXEC fallback are the shell's own."""
    words = plain_words(argv) if "PATH" in env else None   # the shell has its own default
    program = words and _find_program(words[0], cwd, env["PATH"])
    if words and program:
        with contextlib.suppress(OSError):
            return _popen([program, *words[1:]], cwd, _as_shell_passes_it(env), stdin=stdin,
                          stdout=stdout, stderr=stderr, argv0=words[0])
    return _start(_exec_plain_command(argv), cwd, env, stdin=stdin, stdout=stdout,
                  stderr=stderr)


class Tracker(Protocol):
    """What the lifeline must hear about a service's spawn (see `runtime/lifeline.py`)."""

    def expect(self, pipe_inode: int | None) -> None: ...

    def track(self, pgid: int) -> None: ...


def spawn(argv: Sequence[str], cwd: Path, env: Mapping[str, str], tracker: Tracker) -> Child:
    """Start a service's `argv` in `cwd` with exactly `env`, in a new process group.

    The watchdog must know the child before it can run, but its pid exists only once it
    runs. So the stdout pipe is made here and its inode announced first (`expect`): if
    orchestra dies during the spawn, whatever holds that pipe is the child. Its group is
    listed (`track`) as soon as the spawn returns, before anything else.
    """
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


def spawn_attached(argv: Sequence[str], cwd: Path,
                   env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Start `orchestra run`'s command with orchestra's stdin, stdout and stderr.

    It gets a process group of its own, like a shell's job, so that a signal can reach its
    children too; `runtime/foreground.py` makes that group the terminal's foreground group.
    """
    return _start(argv, cwd, env)


def spawn_quiet(argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Start a check command (output discarded) in a new process group."""
    return _start_command(argv, cwd, env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)


def _spawn_error(exc: OSError, argv: Sequence[str], cwd: Path) -> SpawnError:
    if exc.filename is not None and str(exc.filename) == str(cwd):
        return SpawnError(f"directory '{cwd}' does not exist or is not usable "
                          f"({exc.strerror})", 127)
    program = argv[0] if argv else ""
    if isinstance(exc, FileNotFoundError):
        return SpawnError(f"'{program}' not found", 127)
    if isinstance(exc, PermissionError):
        return SpawnError(f"'{program}' is not executable (permission denied)", 126)
    return SpawnError(f"'{program}' cannot be started: {exc.strerror}", 126)


# A watchdog that outlives orchestra only long enough to kill what orchestra started. It reads
# "+PGID" / "-PGID" lines from a pipe whose only writer is orchestra; when orchestra dies (even
# by SIGKILL) the kernel closes that pipe, `read` sees EOF, and every group still listed gets
# SIGTERM, then SIGKILL if any is still there a second later (the watchdog exits as soon as
# they are all gone). "?INODE" comes before each service's spawn, naming its stdout pipe, and
# its "+PGID" after: if orchestra died in between, the processes holding that pipe, at any fd
# (a child may not have made it its stdout yet), are the service: found with one `find`, only
# then, leaving out orchestra itself ($PPID), which may not have closed all its fds yet; where
# there is no /proc (macOS, the BSDs) that child is not found (docs/ARCHITECTURE.md).
# A "dPATH" line names the one folder to remove at EOF (the run's notify sockets); a bare "d"
# withdraws it. dash needs ~1 MB; no helper per service.
WATCHDOG_SCRIPT = r"""
trap '' INT HUP QUIT TSTP
groups=' '
pending=
found=
folder=
while IFS= read -r line; do
  case $line in
    +*) groups="$groups${line#+} "; pending= ;;
    -*) p=${line#-}
        case $groups in *" $p "*) groups="${groups%% $p *} ${groups#* $p }" ;; esac ;;
    \?*) pending=${line#?} ;;
    d*) folder=${line#d} ;;
  esac
done
if [ -n "$pending" ] && [ -d /proc/self/fd ]; then
  for f in $(find /proc/[0-9]*/fd -mindepth 1 -maxdepth 1 -lname "pipe:\[$pending\]" \
             2>/dev/null); do
    p=${f#/proc/}; p=${p%%/*}
    [ "$p" = "$PPID" ] && continue
    kill -TERM -"$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null; found="$found $p"
  done
fi
for p in $groups; do kill -TERM -"$p" 2>/dev/null; done
[ -n "$folder" ] && rm -rf -- "$folder"
[ "$groups$found" = ' ' ] && exit 0
for tick in 1 2 3 4 5 6 7 8 9 10; do
  alive=
  for p in $groups $found; do kill -0 -"$p" 2>/dev/null && alive=1; done
  [ -z "$alive" ] && exit 0
  sleep 0.1
done
for p in $groups $found; do kill -KILL -"$p" 2>/dev/null; done
exit 0
"""


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
