"""Launching one run (a runner on a Procfile, or the raw producers), waiting on it,
and tearing it down so that no process of it outlives the run.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.place import Place, discard, fresh_place
from bench.procfs import (
    ACTIVE_SESSIONS,
    descendants,
    kill_sessions,
    read_bytes,
    session_of,
    session_pids,
)
from bench.runners import RAW, Runner, Service, service
from bench.stream import ANSI_RE, TAG_READY, Stream


class RunTimeout(Exception):
    """A run exceeded its deadline; the cell reads "timeout"."""


@dataclass
class Handle:
    """One launched run: the runner process (or raw producers) and its stdout."""

    runner: str
    t_launch: float
    stream: Stream
    proc: subprocess.Popen[bytes] | None = None
    raw_procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    stderr_path: Path | None = None
    closed: bool = False
    # Sessions holding this run's processes: the runner's own (start_new_session),
    # plus any a runner gives its services (honcho calls setsid per service).
    sessions: set[int] = field(default_factory=set)

    def track(self) -> None:
        """Record the sessions of the runner's descendants and of READY-line pids.

        Call while the process tree is intact (runner alive, services up): once
        the runner is gone, orphans are reparented and only their session still
        ties them to this run.
        """
        pids = descendants(self.proc.pid) if self.proc is not None else []
        if self.stream.counts[TAG_READY]:
            text = ANSI_RE.sub(b"", self.stream.text())
            pids += [int(m) for m in re.findall(rb"@R \S+ (\d+)", text)]
        found = {sid for sid in map(session_of, pids) if sid is not None}
        found.discard(os.getsid(0))  # never the harness's own session
        self.sessions |= found
        ACTIVE_SESSIONS.update(found)

    def stderr_tail(self) -> str:
        if not self.stderr_path:
            return ""
        lines = read_bytes(str(self.stderr_path)).decode(errors="replace").strip().splitlines()
        return " / ".join(dict.fromkeys(line.strip() for line in lines[-4:]))[:200]


def write_procfile(directory: Path, svcs: list[Service]) -> Path:
    """The scenario's Procfile, written only when its content changes.

    The warm run in a place finds the cold run's Procfile with the same bytes
    and the same mtime: nothing a config cache could look at differs.
    """
    path = directory / "Procfile"
    text = "".join(f"{s.name}: {shlex.join(s.argv)}\n" for s in svcs).encode()
    if read_bytes(str(path)) != text:
        path.write_bytes(text)
    return path


def runner_env(place: Place) -> dict[str, str]:
    """The harness's environment, no colour, and the place's own empty cache folder.

    The same for every runner; a cold run is cold because its folders are new.
    """
    env = dict(os.environ)
    env.update(NO_COLOR="1", FORCE_COLOR="0", XDG_CACHE_HOME=str(place.cache))
    return env


def launch_raw(svcs: list[Service], rfd: int, wfd: int) -> Handle:
    """The producers alone, all writing to one pipe, each in its own session."""
    t0 = time.monotonic()
    procs = [
        subprocess.Popen(
            s.argv,
            stdout=wfd,
            stdin=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for s in svcs
    ]
    sessions = {p.pid for p in procs}
    ACTIVE_SESSIONS.update(sessions)
    return Handle(RAW, t0, Stream(rfd), raw_procs=procs, sessions=sessions)


def launch(runner: Runner | None, svcs: list[Service], place: Place) -> Handle:
    """Start a runner on a Procfile in `place`, or (runner=None) the raw producers on one pipe."""
    rfd, wfd = os.pipe()
    try:
        if runner is None:
            return launch_raw(svcs, rfd, wfd)
        argv = runner.argv(write_procfile(place.project, svcs), svcs)
        env = runner_env(place)
        err = place.stderr_log
        with open(err, "wb") as errf:
            t0 = time.monotonic()
            proc = subprocess.Popen(
                argv,
                stdout=wfd,
                stderr=errf,
                stdin=subprocess.DEVNULL,
                cwd=place.project,
                env=env,
                start_new_session=True,
            )
        ACTIVE_SESSIONS.add(proc.pid)
        return Handle(runner.name, t0, Stream(rfd), proc=proc, stderr_path=err, sessions={proc.pid})
    except BaseException:
        os.close(rfd)
        raise
    finally:
        os.close(wfd)


def teardown(h: Handle) -> None:
    """Kill the runner's group and every process of the run's sessions, reap, close."""
    if h.proc is not None:
        if h.proc.poll() is None:
            h.track()
        with contextlib.suppress(OSError):
            os.killpg(h.proc.pid, signal.SIGKILL)
    for p in h.raw_procs:
        if p.poll() is None:
            p.kill()
    kill_sessions(h.sessions)
    for p in [*h.raw_procs, *([h.proc] if h.proc else [])]:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
    kill_sessions(h.sessions)
    ACTIVE_SESSIONS.difference_update(h.sessions)
    if not h.closed:
        os.close(h.stream.fd)
        h.closed = True


def wait_for(h: Handle, tag: bytes, count: int, deadline: float) -> float:
    """Pump until `count` lines carrying `tag` were seen; return that moment."""
    while h.stream.counts[tag] < count:
        if time.monotonic() > deadline:
            raise RunTimeout(f"saw {h.stream.counts[tag]}/{count} {tag.decode().strip()} lines")
        if h.stream.eof:
            raise RuntimeError(
                f"runner exited early (rc={h.proc.returncode if h.proc else '?'}) {h.stderr_tail()}"
            )
        h.stream.pump(min(0.05, deadline - time.monotonic()))
    return h.stream.last[tag]


def pump_for(h: Handle, seconds: float) -> None:
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        h.stream.pump(min(left, 0.2))


def wait_exit(h: Handle, timeout: float) -> float | None:
    """Wait for the runner to exit while draining its stdout; exit time or None."""
    assert h.proc is not None
    deadline = time.monotonic() + timeout
    try:
        pidfd: int | None = os.pidfd_open(h.proc.pid)
    except (AttributeError, OSError):
        pidfd = None
    try:
        while True:
            if h.proc.poll() is not None:
                return time.monotonic()
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            fds = [pidfd] if pidfd is not None else []
            if not h.stream.eof and not h.closed:
                fds.append(h.stream.fd)
            ready, _, _ = select.select(fds, [], [], min(left, 0.001 if pidfd is None else left))
            now = time.monotonic()
            if pidfd is not None and pidfd in ready:
                h.proc.wait()
                return now
            if h.stream.fd in ready and not h.closed:
                h.stream.pump(0)
    finally:
        if pidfd is not None:
            os.close(pidfd)


def wait_left(h: Handle, since: float, wait_s: float) -> int:
    """Processes of the run alive `wait_s` after `since`; stops early once none is left."""
    exclude = (h.proc.pid,) if h.proc is not None else ()
    end = since + wait_s
    while True:
        n = len(session_pids(h.sessions, exclude))
        if n == 0 or time.monotonic() >= end:
            return n
        time.sleep(min(0.05, max(0.0, end - time.monotonic())))


def smoke(runner: Runner) -> str | None:
    """One idle service must come up under the runner; else the peer is skipped."""
    place = fresh_place("smoke", runner.name)
    try:
        h = launch(runner, [service("s1", "idle")], place)
    except OSError as e:
        discard(place)
        return f"cannot start: {e}"
    try:
        wait_for(h, TAG_READY, 1, time.monotonic() + 20)
        return None
    except (RunTimeout, RuntimeError) as e:
        return f"smoke test failed: {e} {h.stderr_tail()}".strip()
    finally:
        teardown(h)
        discard(place)
