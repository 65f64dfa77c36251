"""Run the real `orchestra up` in a temporary project and watch its output and processes.

Every orchestra started here gets `ORCHESTRA_TEST_MARK=<mark>` in its environment, which every
service, grandchild and the watchdog inherit; `leftovers(mark)` finds them all through
/proc/*/environ (psutil where there is no /proc), even those that left their process group or
session.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

PY = sys.executable
MARK_VAR = "ORCHESTRA_TEST_MARK"
#: Where the tests read the process table: /proc, or the real one mounted elsewhere when
#: /proc is hidden from orchestra (tests/portability/without_proc.sh).
PROC = os.environ.get("ORCHESTRA_TEST_PROC", "/proc")
#: No process table in /proc (macOS, the BSDs): psutil reads it from the kernel instead.
HAS_PROC = os.path.isdir(f"{PROC}/self")

#: A text line of `up --no-timestamps --no-color`: padded name, `|` (or `+` for a continued
#: piece of a cut line), one space, the text.
LINE = re.compile(r"^(?P<name>\S+) +(?P<sep>[|+]) (?P<text>.*)$")


def py(code: str) -> list[str]:
    """A YAML `command:` list that runs `code` with this interpreter."""
    return [PY, "-c", textwrap.dedent(code).strip() + "\n"]


def base_env(mark: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("NO_COLOR", "FORCE_COLOR", "PORT", "ORCHESTRA_FILE",
                        "ORCHESTRA_PROFILES")
           and not k.startswith("PYTEST_")}
    env[MARK_VAR] = mark
    env.update(extra or {})
    return env


# ---------------------------------------------------------------------------- processes


def _environ(pid: int) -> bytes | None:
    if not HAS_PROC:
        return _psutil_environ(pid)
    try:
        with open(f"{PROC}/{pid}/environ", "rb") as f:
            return f.read()
    except OSError:
        return None


def _psutil_environ(pid: int) -> bytes | None:
    """Where there is no /proc (macOS, the BSDs): the environment as psutil reads it."""
    import psutil

    try:
        env = psutil.Process(pid).environ()
    except (psutil.Error, OSError):
        return None
    return b"\0".join(f"{k}={v}".encode() for k, v in env.items())


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    if not HAS_PROC:
        import psutil

        try:
            return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
        except psutil.Error:
            return False
    try:
        with open(f"{PROC}/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != b"Z"


def _pids() -> list[int]:
    if not HAS_PROC:
        import psutil

        return list(psutil.pids())
    return [int(entry) for entry in os.listdir(PROC) if entry.isdigit()]


def leftovers(mark: str) -> list[int]:
    """Live processes (not this one) whose environment carries the mark."""
    needle = f"{MARK_VAR}={mark}".encode()
    found = []
    for pid in _pids():
        if pid == os.getpid():
            continue
        env = _environ(pid)
        if env and needle in env.split(b"\0") and alive(pid):
            found.append(pid)
    return found


def describe(pids: Iterable[int]) -> str:
    out = []
    for pid in pids:
        try:
            if HAS_PROC:
                with open(f"{PROC}/{pid}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace")[:120]
            else:
                import psutil

                cmd = " ".join(psutil.Process(pid).cmdline())[:120]
        except Exception:
            cmd = "?"
        out.append(f"{pid}: {cmd}")
    return "; ".join(out) or "none"


def wait_until(predicate, timeout: float, what: str, interval: float = 0.02):  # type: ignore[no-untyped-def]
    """Poll `predicate` until it returns something truthy, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def wait_gone(pids: Sequence[int], timeout: float) -> list[int]:
    """Wait until none of `pids` is alive; the ones still alive at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        left = [p for p in pids if alive(p)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.02)


def wait_no_leftovers(mark: str, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        left = leftovers(mark)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.02)


def kill_leftovers(mark: str) -> list[int]:
    left = leftovers(mark)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return left


# ---------------------------------------------------------------------------- output


@dataclass
class Result:
    rc: int
    out: bytes
    err: bytes

    @property
    def text(self) -> str:
        return self.out.decode("utf-8", "replace")

    @property
    def lines(self) -> list[str]:
        """Split on "\\n" only: str.splitlines would also split at \\x0b, \\x1c, U+2028..."""
        text = self.text
        return (text[:-1] if text.endswith("\n") else text).split("\n") if text else []

    def of(self, name: str) -> list[str]:
        """Texts of the lines printed for `name` (needs --no-timestamps --no-color)."""
        return [m["text"] for m in map(LINE.match, self.lines) if m and m["name"] == name]

    def index(self, pattern: str) -> int:
        """Index of the first line matching `pattern`."""
        for i, line in enumerate(self.lines):
            if re.search(pattern, line):
                return i
        raise AssertionError(f"no line matches {pattern!r}:\n{self.dump()}")

    def json(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.lines]

    def dump(self) -> str:
        return (f"rc={self.rc}\n--- stdout ---\n{self.text[-6000:]}\n--- stderr ---\n"
                f"{self.err.decode(errors='replace')[-3000:]}")


class Orchestra:
    """A running `orchestra up` in a session of its own; threads collect stdout and stderr."""

    def __init__(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str],
                 pass_fds: Sequence[int] = (), merge_stderr: bool = False) -> None:
        """`merge_stderr`: stderr into the same pipe as stdout, in the order written."""
        self.proc = subprocess.Popen(
            list(argv), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
            start_new_session=True, pass_fds=tuple(pass_fds))
        self._out = bytearray()
        self._err = bytearray()
        self._cond = threading.Condition()
        assert self.proc.stdout is not None
        self._threads = [
            threading.Thread(target=self._pump, args=(self.proc.stdout.fileno(), self._out),
                             daemon=True)]
        if self.proc.stderr is not None:
            self._threads.append(threading.Thread(
                target=self._pump, args=(self.proc.stderr.fileno(), self._err), daemon=True))
        for t in self._threads:
            t.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _pump(self, fd: int, into: bytearray) -> None:
        while True:
            try:
                chunk = os.read(fd, 1 << 16)
            except OSError:
                chunk = b""
            with self._cond:
                if not chunk:
                    self._cond.notify_all()
                    return
                into.extend(chunk)
                self._cond.notify_all()

    def output(self) -> str:
        with self._cond:
            return bytes(self._out).decode("utf-8", "replace")

    def wait_for(self, pattern: str, timeout: float = 10.0) -> re.Match[str]:
        """The first stdout line matching `pattern`, waiting at most `timeout` seconds."""
        regex = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                text = bytes(self._out).decode("utf-8", "replace")
                match = regex.search(text)
                if match:
                    return match
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.proc.poll() is not None
                                      and not any(t.is_alive() for t in self._threads)):
                    raise AssertionError(
                        f"no output line matched {pattern!r} within {timeout:g} s "
                        f"(orchestra rc={self.proc.poll()}):\n{text[-4000:]}\n--- stderr ---\n"
                        f"{bytes(self._err).decode(errors='replace')[-2000:]}")
                self._cond.wait(min(remaining, 0.2))

    def send(self, signum: int) -> None:
        os.kill(self.proc.pid, signum)

    def wait(self, timeout: float = 15.0) -> Result:
        """Wait for orchestra to exit and its output to end; fail (after killing it) if not."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError(f"orchestra did not exit within {timeout:g} s:\n"
                                 f"{self.output()[-4000:]}") from None
        for t in self._threads:
            t.join(5)
            assert not t.is_alive(), "orchestra's stdout/stderr still open after it exited"
        return Result(rc, bytes(self._out), bytes(self._err))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


class Project:
    """A temporary project directory; starts `orchestra up` in it with the test's mark."""

    def __init__(self, root: Path, mark: str) -> None:
        self.root = root
        self.mark = mark
        self._started: list[Orchestra] = []

    def yaml(self, services: Mapping[str, object], **top: object) -> Path:
        """Write orchestra.yaml (JSON is YAML, and needs no quoting care)."""
        path = self.root / "orchestra.yaml"
        path.write_text(json.dumps({"services": services, **top}, indent=1))
        return path

    def procfile(self, text: str) -> Path:
        path = self.root / "Procfile"
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    def argv(self, args: Sequence[str]) -> list[str]:
        return [PY, "-m", "orchestra", "up", *args]

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return base_env(self.mark, extra)

    def start(self, *args: str, env: Mapping[str, str] | None = None,
              pass_fds: Sequence[int] = ()) -> Orchestra:
        orch = Orchestra(self.argv(args), self.root, self.env(env), pass_fds)
        self._started.append(orch)
        return orch

    def run(self, *args: str, timeout: float = 20.0,
            env: Mapping[str, str] | None = None) -> Result:
        """Run `orchestra up ARGS` to its end (at most `timeout` seconds)."""
        return self.start(*args, env=env).wait(timeout)

    def close(self) -> None:
        for orch in self._started:
            orch.close()


def select_read(fd: int, timeout: float) -> bytes:
    """One read from `fd`, waiting at most `timeout`; b'' at end-of-file."""
    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        raise AssertionError(f"nothing to read within {timeout:g} s")
    try:
        return os.read(fd, 1 << 16)
    except OSError:
        return b""
