"""The pseudo-terminal of a `tty: true` service, from orchestra's side (the master).

The service gets the slave as stdin, stdout and stderr, and as its controlling terminal
(`spawn` starts it through `TTY_EXEC_HELPER`). orchestra keeps the master: `pipes` reads it
like a pipe (its output, prefixed, as one stream called `tty`), and a `Terminal` lets
`orchestra attach` clients share it: each sees the raw output, each may type, each may
resize it.

Size: the pty starts with orchestra's own terminal size (its stdout, stdin or stderr, else
80x24) and follows orchestra's SIGWINCH; an attached client sets it to its own. The last
size set wins, as the kernel has one size per terminal. Setting it (TIOCSWINSZ on the master)
makes the kernel send SIGWINCH to the service's foreground process group.

A client that attaches is first shown the latest output (`recent`), as a screen would show it:
the prompt a debugger printed while nobody was attached.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import struct
import termios
from collections.abc import Callable
from typing import Protocol

DEFAULT_SIZE = (24, 80)   # rows, columns: what a terminal is assumed to be when there is none
#: Keystrokes waiting for a service that does not read them are dropped past this many bytes.
MAX_INPUT_BACKLOG = 64 * 1024
#: A client that attaches is first shown about this many bytes of the latest output (from the
#: start of a line): the prompt a debugger or `input()` printed before anyone was there.
RECENT_OUTPUT = 2048

#: Runs between fork+exec and the service (no `preexec_fn`, see `spawn`): Popen has already
#: made it a session leader (`start_new_session`) with the slave as fds 0-2. TIOCSCTTY then
#: makes the slave its controlling terminal, the one way that works on Linux, macOS and the
#: BSDs alike (an open() without O_NOCTTY would do on Linux only, and the slave is inherited,
#: not opened). Python ignores SIGPIPE and SIGXFSZ, which exec would keep: reset. Python also
#: sets LC_CTYPE=C.UTF-8 under the C locale (PEP 538): argv[1] is the service's own LC_CTYPE
#: ("=VALUE") or "" for none, so the service's environment is exactly the one it was given.
TTY_EXEC_HELPER = """\
import fcntl, os, signal, sys, termios
for name in ("SIGPIPE", "SIGXFSZ"):
    if hasattr(signal, name):
        signal.signal(getattr(signal, name), signal.SIG_DFL)
if sys.argv[1]:
    os.environ["LC_CTYPE"] = sys.argv[1][1:]
else:
    os.environ.pop("LC_CTYPE", None)
fcntl.ioctl(0, termios.TIOCSCTTY, 0)
try:
    os.execvp(sys.argv[2], sys.argv[2:])
except OSError as exc:
    sys.stderr.write(f"orchestra: cannot run {sys.argv[2]!r}: {exc.strerror}\\n")
    os._exit(127 if isinstance(exc, FileNotFoundError) else 126)
"""


def outer_size() -> tuple[int, int]:
    """orchestra's own terminal size (rows, columns): its stdout, stdin or stderr, else 80x24."""
    for fd in (1, 0, 2):
        try:
            size = os.get_terminal_size(fd)
        except (OSError, ValueError):
            continue
        if size.lines > 0 and size.columns > 0:
            return size.lines, size.columns
    return DEFAULT_SIZE


def set_size(fd: int, rows: int, columns: int) -> None:
    """Set a terminal's size (either side of a pty)."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


def open_pty(rows: int, columns: int) -> tuple[int, int, str]:
    """A new pty of that size: (master, slave, the slave's path). Both fds are close-on-exec
    (PEP 446), so no other child inherits them; the service gets the slave by dup2."""
    master, slave = os.openpty()
    try:
        set_size(slave, rows, columns)
        return master, slave, os.ttyname(slave)
    except BaseException:
        os.close(master)
        os.close(slave)
        raise


class Listener(Protocol):
    """An attached client, as a terminal sees it (`control/attach`)."""

    def output(self, data: bytes) -> None: ...

    def ended(self) -> None: ...


class Terminal:
    """The master side of one run's pty, shared by orchestra's reader and attached clients.

    It holds a duplicate of the master fd for input and resizes, so that it never writes to
    an fd number the reading transport has closed (and the kernel may have reused). It ends
    with the run's output (`end`): a restarted service has a new terminal.
    """

    def __init__(self, master: int, path: str) -> None:
        self.path = path
        self._fd = os.dup(master)   # close-on-exec, as os.dup makes it
        os.set_blocking(self._fd, False)
        self._listeners: list[Listener] = []
        self._recent = bytearray()   # the latest output, for a client that attaches
        self._input = bytearray()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.closed = False

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Its output is being read on `loop`: follow orchestra's size from now on."""
        self._loop = loop
        _LIVE.add(self)
        _follow_resizes(loop)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """`listener` sees the latest output (`recent`), then every chunk from now on;
        returns the unsubscribe."""
        if recent := self.recent():
            listener.output(recent)
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def recent(self) -> bytes:
        """At most `RECENT_OUTPUT` bytes of the latest output, from the start of a line when
        older output was left out (so no escape sequence or character is cut in two), unless
        that one line is longer: as a screen would show it, a prompt waiting at the end."""
        window = bytes(self._recent[-RECENT_OUTPUT - 1:])   # with the byte before the tail
        if len(window) <= RECENT_OUTPUT:
            return window
        newline = window.find(b"\n")
        return window[newline + 1:] if newline >= 0 else window[1:]

    def output(self, data: bytes) -> None:
        self._recent += data
        if len(self._recent) > 2 * RECENT_OUTPUT:   # trimmed now and then, not at every chunk
            del self._recent[:-RECENT_OUTPUT - 1]
        for listener in list(self._listeners):
            listener.output(data)

    def write(self, data: bytes) -> None:
        """Keystrokes for the service; those it does not read are kept up to a bound."""
        if self.closed:
            return
        if self._input:
            self._input += data[:MAX_INPUT_BACKLOG - len(self._input)]
            return
        written = self._write_some(data)
        if written < len(data):
            self._input += data[written:written + MAX_INPUT_BACKLOG]
            if self._loop is not None:
                self._loop.add_writer(self._fd, self._flush)

    def _write_some(self, data: bytes) -> int:
        try:
            return os.write(self._fd, data)
        except BlockingIOError:
            return 0
        except OSError:   # the slave side is gone: the run is ending
            return len(data)

    def _flush(self) -> None:
        del self._input[:self._write_some(bytes(self._input))]
        if not self._input and self._loop is not None:
            self._loop.remove_writer(self._fd)

    def resize(self, rows: int, columns: int) -> None:
        if not self.closed:
            with contextlib.suppress(OSError):
                set_size(self._fd, rows, columns)

    def end(self) -> None:
        """The run's output ended: tell every client, and let go of the terminal."""
        if self.closed:
            return
        self.closed = True
        _LIVE.discard(self)
        if self._input and self._loop is not None:
            self._loop.remove_writer(self._fd)
        os.close(self._fd)
        for listener in list(self._listeners):
            listener.ended()
        self._listeners.clear()


#: The terminals of the runs now going; orchestra's SIGWINCH resizes them all.
_LIVE: set[Terminal] = set()
_resizing_on: list[asyncio.AbstractEventLoop] = []


def _follow_resizes(loop: asyncio.AbstractEventLoop) -> None:
    """Install the SIGWINCH handler on `loop`, once (the loop removes it when it closes)."""
    if loop in _resizing_on:
        return
    _resizing_on[:] = [loop]
    # a loop outside the main thread cannot have signal handlers: its terminals keep their size
    with contextlib.suppress(ValueError, RuntimeError):
        loop.add_signal_handler(signal.SIGWINCH, _resize_all)


def _resize_all() -> None:
    rows, columns = outer_size()
    for terminal in list(_LIVE):
        terminal.resize(rows, columns)
