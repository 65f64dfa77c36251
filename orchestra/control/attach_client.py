"""The client side of `orchestra attach` (and of the view's `a` key): this terminal on a
`tty: true` service of the running stack. The stack's side is `control/attach.py`.

Through the control socket (owner only, as every command): after the request and its reply,
frames (`control/frames.py`) carry the keystrokes one way and the service's output the other.
On a terminal, it goes raw, so every key — Ctrl-C and Ctrl-Z too — goes to the service as a
byte, and the output is shown as the service wrote it (not prefixed). Ctrl-] detaches and
leaves the service running. The terminal's size is sent on attach and on every SIGWINCH. When
stdin is not a terminal (a pipe, a script) the bytes flow the same way, without raw mode; its
end stops the sending, and the output is shown until the service or the stack ends.
Whatever ends the attach, the terminal is restored before the command returns.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
import sys
import termios
import tty
from types import FrameType

from orchestra.control import frames, protocol
from orchestra.control.client import ControlError, connected, decode_reply

DETACH_KEY = b"\x1d"   # Ctrl-]
DETACH_NAME = "Ctrl-]"
#: Written to this terminal as attach leaves it: the modes a service's output may have turned
#: on here stay on otherwise (termios is restored apart). Colours and attributes off, the
#: cursor shown, mouse reports (X10, button, any-motion, SGR) and bracketed paste off, cursor
#: keys and keypad back to normal. Each is harmless where the mode was not on.
TERMINAL_RESET = (b"\x1b[0m\x1b[?25h\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l"
                  b"\x1b[?2004l\x1b[?1l\x1b>")


def attach(path: str, service: str) -> int:
    """Attach to `service` of the stack at `path`; the exit code: 0 when detached or when
    the service or the stack ended, 128+N when ended by signal N, 1 when the link broke."""
    return attach_until_end(path, service)[0]


def attach_until_end(path: str, service: str) -> tuple[int, str]:
    """`attach`, and also why it ended (said on stderr too): the view's status line."""
    sock = connected(path)
    try:
        sock.sendall(protocol.encode({"command": "attach", "services": [service]}))
        reply, rest = _reply(sock)
        name, pid = reply.get("name"), reply.get("pid")
        interactive = os.isatty(0)
        session = _Session(sock, interactive)
        try:
            # said once the terminal is raw: keys typed after it must not be echoed by it
            reason = session.run(rest, f"attached to {name} (pid {pid}); {DETACH_NAME} "
                                       "detaches")
        except KeyboardInterrupt:   # SIGINT while stdin is no terminal (raw mode has none)
            reason, session.exit_code = "detached (SIGINT); the service keeps running", 130
        _say(reason, raw=interactive)
        return session.exit_code, reason
    finally:
        sock.close()


def _reply(sock: socket.socket) -> tuple[dict[str, object], bytes]:
    """The JSON reply line, and what came after it (the first frames)."""
    received = bytearray()
    sock.settimeout(30)
    while b"\n" not in received:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            raise ControlError("the stack did not answer within 30 s") from None
        if not chunk:
            raise ControlError("the stack closed the connection")
        received += chunk
    sock.settimeout(None)
    line, _, rest = bytes(received).partition(b"\n")
    message = decode_reply(line)
    if message.get("ok") is not True:   # attach's one reply must say so; a stream line need not
        raise ControlError(str(message.get("error")))
    result = message.get("result")
    return (result if isinstance(result, dict) else {}), rest


def _say(text: str, *, raw: bool) -> None:
    """A line of attach's own on stderr; `raw`: after the service's output, which may have
    left the cursor mid-line."""
    sys.stderr.write(("\r\n" if raw else "") + text + "\n")
    sys.stderr.flush()


def _size() -> tuple[int, int] | None:
    for fd in (0, 1):
        with contextlib.suppress(OSError):
            size = os.get_terminal_size(fd)
            if size.lines and size.columns:
                return size.lines, size.columns
    return None


class _Session:
    """The loop between this terminal and the socket, and the terminal's state around it."""

    def __init__(self, sock: socket.socket, interactive: bool) -> None:
        self.sock = sock
        self.interactive = interactive
        self.exit_code = 0
        self._signalled: list[int] = []

    def run(self, first: bytes, greeting: str) -> str:
        saved = termios.tcgetattr(0) if self.interactive else None
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_write, False)
        handlers = {signum: signal.signal(signum, self._on_signal)
                    for signum in (signal.SIGWINCH, signal.SIGTERM, signal.SIGHUP)}
        previous_wakeup = signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
        try:
            if saved is not None:
                tty.setraw(0, termios.TCSANOW)
            sys.stderr.write(greeting + ("\r\n" if saved is not None else "\n"))
            sys.stderr.flush()
            return self._loop(first, wake_read)
        finally:
            if saved is not None:
                if os.isatty(1):
                    with contextlib.suppress(OSError):
                        _write_all(1, TERMINAL_RESET)
                termios.tcsetattr(0, termios.TCSADRAIN, saved)
            signal.set_wakeup_fd(previous_wakeup)
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
            os.close(wake_read)
            os.close(wake_write)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signalled.append(signum)

    def _loop(self, first: bytes, wake: int) -> str:
        try:
            return self._exchange(first, wake)
        except OSError as exc:   # the socket broke, or our stdout was closed
            self.exit_code = 1
            return f"attach ended: {exc.strerror or exc}"

    def _exchange(self, first: bytes, wake: int) -> str:
        size = _size()
        if size is not None:
            self.sock.sendall(frames.resize(*size))
        decoder = frames.Decoder()
        ended = self._show(decoder.feed(first))
        if ended is not None:
            return ended
        selector = selectors.DefaultSelector()
        selector.register(self.sock, selectors.EVENT_READ)
        selector.register(wake, selectors.EVENT_READ)
        try:
            selector.register(0, selectors.EVENT_READ)
        except PermissionError:   # a regular file or /dev/null, which epoll refuses
            ended = self._send_to_the_end()
            if ended is not None:
                return ended
        with selector:
            while True:
                for key, _ in selector.select():
                    if key.fileobj is self.sock:
                        data = self.sock.recv(65536)
                        if not data:
                            self.exit_code = 1
                            return "the stack closed the connection"
                        ended = self._show(decoder.feed(data))
                    elif key.fileobj == 0:
                        ended = self._type(os.read(0, 65536), selector)
                    else:
                        with contextlib.suppress(BlockingIOError):
                            os.read(wake, 512)
                        ended = self._signals()
                    if ended is not None:
                        return ended

    def _send_to_the_end(self) -> str | None:
        """Stdin that is always readable (a file): all of it now, up to a detach key."""
        while data := os.read(0, 65536):
            if (ended := self._send(data)) is not None:
                return ended
        return None

    def _show(self, received: list[tuple[bytes, bytes]]) -> str | None:
        for kind, payload in received:
            if kind == frames.DATA:
                _write_all(1, payload)
            elif kind == frames.END:
                return payload.decode("utf-8", "replace")
        return None

    def _type(self, data: bytes, selector: selectors.BaseSelector) -> str | None:
        if not data:   # end of a piped stdin: nothing more to send; keep showing the output
            selector.unregister(0)
            return None
        return self._send(data)

    def _send(self, data: bytes) -> str | None:
        """Keys for the service, up to a detach key (then the reason the attach ends)."""
        before, key, _ = data.partition(DETACH_KEY)
        if before:
            self.sock.sendall(frames.frame(frames.DATA, before))
        if key:
            return "detached; the service keeps running"
        return None

    def _signals(self) -> str | None:
        signalled, self._signalled = self._signalled, []
        for signum in signalled:
            if signum == signal.SIGWINCH:
                size = _size()
                if size is not None:
                    self.sock.sendall(frames.resize(*size))
            else:
                self.exit_code = 128 + signum
                return f"detached ({signal.Signals(signum).name}); the service keeps running"
        return None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
