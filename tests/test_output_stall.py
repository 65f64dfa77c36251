"""A reader of orchestra's stdout that stops reading must not stop orchestra itself.

Signals, timers and checks are served however slow the reader is; the services' output is
held back (their pipes are no longer read, so they block) rather than dropped or buffered
without bound, and every line reaches the reader once it reads again.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import select
import signal
import subprocess
import termios
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers.orch import Project, py, wait_until

LINES = 400_000           # 36 MB: far more than orchestra may hold back
CHATTY = f"""
    import os, signal
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    os.write(1, b"pid %d\\n" % os.getpid())
    for n in range({LINES}):
        os.write(1, b"%08d %s\\n" % (n, b"x" * 80))
    signal.pause()
"""
ENDLESS = """
    import os, signal
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    os.write(1, b"pid %d\\n" % os.getpid())
    while True:
        os.write(1, b"%s\\n" % (b"x" * 89))
"""
SENTINEL = """
    import os, signal, sys
    def stop(*_):
        open(sys.argv[1], "w").close()
        os._exit(0)
    signal.signal(signal.SIGTERM, stop)
    os.write(1, b"waiting\\n")
    signal.pause()
"""


pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self"),
                                reason="measures a process's writes and memory in Linux's /proc")

def _unread(fd: int) -> int:
    return int.from_bytes(fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"), "little")


def _written(pid: int) -> int:
    with open(f"/proc/{pid}/io") as f:
        return int(re.search(r"^wchar: (\d+)", f.read(), re.M)[1])  # type: ignore[index]


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"^VmRSS:\s+(\d+)", f.read(), re.M)[1])  # type: ignore[index]


def _read_until(fd: int, pattern: bytes, into: bytearray, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not re.search(pattern, into):
        assert time.monotonic() < deadline, f"{pattern!r} not seen: {bytes(into[-500:])!r}"
        if select.select([fd], [], [], 0.2)[0]:
            into.extend(os.read(fd, 1 << 16))


def _read_to_end(fd: int, into: bytearray, timeout: float) -> None:
    """Read until orchestra closes its end; fails after `timeout` seconds, even when nothing
    more comes (a read that blocks would wait for the test's own timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"output did not end within {timeout:g} s: {bytes(into[-500:])!r}"
        if select.select([fd], [], [], min(remaining, 0.2))[0]:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return
            into.extend(chunk)


def _filled(fd: int, capacity: int) -> bool:
    """Our pipe holds what it can: orchestra's writer is blocked on it. Not `capacity` bytes
    to the byte: a pipe counts pages, and a write does not merge into a page a read has
    started, so a full pipe may hold some KiB less (56,661 of 65,536 bytes seen)."""
    return _unread(fd) >= capacity // 2 and _stable(lambda: _unread(fd), 0.3)


def _stable(read: object, quiet: float) -> bool:
    """True once `read()` has not changed for `quiet` seconds."""
    first = read()  # type: ignore[operator]
    time.sleep(quiet)
    return bool(read() == first)  # type: ignore[operator]


@dataclass
class _Stalled:
    """A run of `chatty` and the sentinel whose stdout reader stopped reading."""
    proc: subprocess.Popen[bytes]
    read_end: int
    out: bytearray      # what was read before the stall
    chatty: int         # its pid
    marker: Path        # made by the sentinel when its stop signal arrives

    def stop_sentinel(self) -> float:
        """SIGTERM to orchestra; how long until the sentinel service got its stop signal."""
        sent = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        wait_until(self.marker.exists, 5.0, "the sentinel service to get its stop signal")
        return time.monotonic() - sent


@contextlib.contextmanager
def _stalled_reader(project: Project, chatty: str) -> Iterator[_Stalled]:
    """orchestra runs `chatty` and the sentinel, its stdout a pipe that we read until both
    have started and then no more; yields once our pipe is full and chatty is held back.
    Kills orchestra if it is still there at the end, and closes the pipe."""
    marker = project.root / "sentinel-stopped"
    project.yaml({"chatty": {"command": py(chatty)},
                  "sentinel": {"command": [*py(SENTINEL), str(marker)]}})
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(project.argv(["--no-color", "--no-timestamps"]), cwd=project.root,
                            env=project.env(), stdin=subprocess.DEVNULL, stdout=write_end,
                            start_new_session=True)
    os.close(write_end)
    out = bytearray()
    try:
        _read_until(read_end, rb"chatty +\| pid (\d+)\n", out, 10)
        _read_until(read_end, rb"sentinel +\| waiting\n", out, 10)
        chatty_pid = int(re.search(rb"chatty +\| pid (\d+)\n", out)[1])  # type: ignore[index]
        # Stop reading. Our pipe fills, then orchestra's backlog, then chatty's pipe.
        capacity = fcntl.fcntl(read_end, fcntl.F_GETPIPE_SZ)
        wait_until(lambda: _filled(read_end, capacity), 20, "our pipe to fill")
        wait_until(lambda: _stable(lambda: _written(chatty_pid), 0.5), 15,
                   "chatty to be held back")
        yield _Stalled(proc, read_end, out, chatty_pid, marker)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        os.close(read_end)


def test_a_stalled_reader_does_not_delay_signals_and_loses_nothing(project: Project) -> None:
    with _stalled_reader(project, CHATTY) as stalled:
        held = _written(stalled.chatty)
        assert held < LINES * 90 // 2, f"chatty was never held back: wrote {held} bytes"
        rss = _rss_kb(stalled.proc.pid)
        assert rss < 80_000, f"orchestra holds {rss} kB"

        reaction = stalled.stop_sentinel()
        out = stalled.out
        _read_to_end(stalled.read_end, out, 60)
        rc = stalled.proc.wait(10)

    assert rc == 143, bytes(out[-2000:])
    # before the fix: never, while the reader stalls; the bound leaves room for a loaded machine
    assert reaction < 3.0, f"the stop signal took {reaction:.2f} s to reach the services"
    numbers = [int(n) for n in re.findall(rb"^chatty +\| (\d{8}) x+$", out, re.M)]
    assert numbers, bytes(out[-2000:])
    assert numbers == list(range(len(numbers))), "lines were lost or reordered"
    assert len(numbers) * 90 >= held - 90, "lines chatty wrote were not shown"


def test_a_second_signal_ends_a_run_whose_reader_never_reads_again(project: Project) -> None:
    """The first signal stops the services and orchestra then waits for its reader; a second
    one gives up on the output, so a reader that never reads again cannot keep orchestra up
    (before the fix it took SIGKILL: the services' pipes stayed paused, and the writer was
    awaited without end)."""
    # chatty writes without end: however late the sentinel starts on a loaded machine, there
    # is always more output than our pipe holds once we stop reading
    with _stalled_reader(project, ENDLESS) as stalled:
        stalled.stop_sentinel()
        stalled.proc.send_signal(signal.SIGTERM)
        try:
            rc: int | None = stalled.proc.wait(10)
        except subprocess.TimeoutExpired:
            rc = None
    assert rc == 143, f"orchestra did not end on the second signal (rc {rc})"
