"""A reader of orchestra's stdout that stops reading must not stop orchestra itself.

Signals, timers and checks are served however slow the reader is; the services' output is
held back (their pipes are no longer read, so they block) rather than dropped or buffered
without bound, and every line reaches the reader once it reads again.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import subprocess
import termios
import time

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


def test_a_stalled_reader_does_not_delay_signals_and_loses_nothing(project: Project) -> None:
    marker = project.root / "sentinel-stopped"
    project.yaml({"chatty": {"command": py(CHATTY)},
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
        chatty = int(re.search(rb"chatty +\| pid (\d+)\n", out)[1])  # type: ignore[index]
        # Stop reading. Our pipe fills, then orchestra's backlog, then chatty's pipe.
        capacity = fcntl.fcntl(read_end, fcntl.F_GETPIPE_SZ)
        wait_until(lambda: _filled(read_end, capacity), 20, "our pipe to fill")
        wait_until(lambda: _stable(lambda: _written(chatty), 0.5), 15,
                   "chatty to be held back")
        held = _written(chatty)
        assert held < LINES * 90 // 2, f"chatty was never held back: wrote {held} bytes"
        assert _rss_kb(proc.pid) < 80_000, f"orchestra holds {_rss_kb(proc.pid)} kB"

        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        wait_until(marker.exists, 5.0, "the sentinel service to get its stop signal")
        reaction = time.monotonic() - sent

        deadline = time.monotonic() + 60
        while chunk := os.read(read_end, 1 << 20):
            out.extend(chunk)
            assert time.monotonic() < deadline, "output did not end within 60 s"
        rc = proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        os.close(read_end)

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
    marker = project.root / "sentinel-stopped"
    # chatty writes without end: however late the sentinel starts on a loaded machine, there
    # is always more output than our pipe holds once we stop reading
    project.yaml({"chatty": {"command": py(ENDLESS)},
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
        chatty = int(re.search(rb"chatty +\| pid (\d+)\n", out)[1])  # type: ignore[index]
        capacity = fcntl.fcntl(read_end, fcntl.F_GETPIPE_SZ)
        wait_until(lambda: _filled(read_end, capacity), 20, "our pipe to fill")
        wait_until(lambda: _stable(lambda: _written(chatty), 0.5), 15,
                   "chatty to be held back")
        proc.send_signal(signal.SIGTERM)
        wait_until(marker.exists, 5.0, "the sentinel service to get its stop signal")
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(10)
        except subprocess.TimeoutExpired:
            rc = None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        os.close(read_end)
    assert rc == 143, f"orchestra did not end on the second signal (rc {rc})"
