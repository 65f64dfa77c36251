#!/usr/bin/env python3
"""Side-by-side benchmark of orchestra against honcho, foreman, nf and concurrently.

Single entry point (stdlib only).  Every scenario is expressed as a Procfile,
every peer runs it the way its users would, and a raw baseline (the same
producers without any runner) is measured in the same invocation so ratios are
comparable across machines.  See bench/README.md for what each scenario means.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import datetime as dt
import functools
import json
import os
import platform
import re
import select
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PEERS = BENCH / ".peers"
PEER_SPECS = BENCH / "peers"
NOTES_FILE = PEERS / "install-notes.json"
RESULTS_FILE = PEERS / "last-results.json"
DOCS_FILE = REPO / "docs" / "PERFORMANCE.md"
# Fixed per-scenario working dirs: a Procfile is byte-identical on every repeat
# and for every runner, so a runner that caches its parsed config runs warm.
WORK = BENCH / ".work"
LOGS = WORK / "logs"
# orchestra's compiled invocation cache, emptied at the start of every bench run.
CACHE = WORK / "cache"
TAG_PAYLOAD, TAG_READY, TAG_EXIT, TAG_TICK = b"@B ", b"@R ", b"@X ", b"@T "
TAGS = (TAG_PAYLOAD, TAG_READY, TAG_EXIT, TAG_TICK)
ANSI_RE = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")
RAW = "raw"


class RunTimeout(Exception):
    """A run exceeded its deadline; the cell reads "timeout"."""


# --------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class Config:
    """Sizes and repeat counts; quick mode shrinks them to fit in < 3 minutes."""

    quick: bool
    repeats: int
    # Start-up/memory cells: one warm-up repeat (reported separately as "cold")
    # plus this many measured repeats; see warm-up in bench/README.md.
    warm_repeats: int
    firehose_lines: int
    startup_ks: tuple[int, ...]
    memory_ks: tuple[int, ...]
    idle_k: int
    idle_window_s: float
    idle_windows: int
    idle_repeats: int
    stubborn_repeats: int
    left_wait_s: float
    deadline_s: float
    stall_s: float
    stop_deadline_s: float
    settle_s: float

    @staticmethod
    def make(quick: bool, repeats: int | None) -> Config:
        if quick:
            return Config(
                quick=True,
                repeats=repeats or 3,
                warm_repeats=repeats or 2,
                firehose_lines=20_000,
                startup_ks=(1, 50, 100),
                memory_ks=(50, 100),
                idle_k=20,
                idle_window_s=1.0,
                idle_windows=3,
                idle_repeats=1,
                stubborn_repeats=1,
                left_wait_s=0.5,
                deadline_s=60.0,
                stall_s=3.0,
                stop_deadline_s=2.5,
                settle_s=0.3,
            )
        return Config(
            quick=False,
            repeats=repeats or 3,
            warm_repeats=repeats or 3,
            firehose_lines=200_000,
            startup_ks=(1, 50, 200),
            memory_ks=(50, 200),
            idle_k=20,
            idle_window_s=10.0,
            idle_windows=1,
            idle_repeats=3,
            stubborn_repeats=repeats or 3,
            left_wait_s=5.0,
            deadline_s=120.0,
            stall_s=10.0,
            stop_deadline_s=10.0,
            settle_s=1.0,
        )


# --------------------------------------------------------------------------
# /proc helpers


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def all_pids() -> Iterator[int]:
    for name in os.listdir("/proc"):
        if name.isdigit():
            yield int(name)


def proc_stat(pid: int) -> list[str]:
    """Fields of /proc/PID/stat after the command name (index 0 = state, 3 = session)."""
    raw = _read(f"/proc/{pid}/stat").decode(errors="replace")
    return raw[raw.rfind(")") + 2 :].split() if raw else []


def is_alive(pid: int) -> bool:
    st = proc_stat(pid)
    return bool(st) and st[0] not in ("Z", "X")


def session_of(pid: int) -> int | None:
    """Session id of a live (non-zombie) process, None if gone."""
    st = proc_stat(pid)
    return int(st[3]) if len(st) > 3 and st[0] not in ("Z", "X") else None


# Sessions of runs not yet torn down: killed at exit if the harness is interrupted.
ACTIVE_SESSIONS: set[int] = set()


def session_pids(sids: set[int], exclude: tuple[int, ...] = ()) -> list[int]:
    """Live processes in any of the sessions.

    A run's processes are identified by session, not by a marker in their
    command line, so that nothing per-run has to appear in a Procfile, an argv
    or an environment (which would defeat a runner's config cache). Linux does
    not reuse a pid while it still names a live session, so a match is ours.
    """
    me = os.getpid()
    return [
        pid for pid in all_pids() if pid != me and pid not in exclude and session_of(pid) in sids
    ]


def kill_sessions(sids: set[int], exclude: tuple[int, ...] = ()) -> None:
    """SIGKILL every process in the sessions until none is left (bounded)."""
    for _ in range(50):
        pids = session_pids(sids, exclude)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)


def children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for pid in all_pids():
        st = proc_stat(pid)
        if len(st) > 1:
            children.setdefault(int(st[1]), []).append(pid)
    return children


def descendants(root: int) -> list[int]:
    """Live descendants of `root` (not itself), by walking parent pids."""
    children = children_map()
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return [p for p in found if is_alive(p)]


def service_needle() -> bytes:
    """What every service's command line (or its `sh -c` wrapper's) contains."""
    return producer_cmd()[-1].encode()


def helper_pids(root: int) -> list[int]:
    """The runner and its descendants that are not services (helpers, workers)."""
    children = children_map()
    needle = service_needle()
    found, todo = [root], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        if needle in _read(f"/proc/{pid}/cmdline"):
            continue  # a service (or its shell wrapper): not the runner's cost
        found.append(pid)
        todo.extend(children.get(pid, []))
    return [p for p in found if is_alive(p)]


def pss_kb(pid: int) -> int:
    for line in _read(f"/proc/{pid}/smaps_rollup").splitlines():
        if line.startswith(b"Pss:"):
            return int(line.split()[1])
    return 0


def cpu_ticks(pid: int) -> int:
    st = proc_stat(pid)
    return int(st[11]) + int(st[12]) if len(st) > 12 else 0


def ctx_switches(pid: int) -> int:
    """Voluntary + involuntary context switches summed over all threads."""
    total = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for tid in tids:
        for line in _read(f"/proc/{pid}/task/{tid}/status").splitlines():
            if line.startswith((b"voluntary_ctxt_switches", b"nonvoluntary_ctxt_switches")):
                total += int(line.split()[1])
    return total


# --------------------------------------------------------------------------
# Services and runners


@dataclass(frozen=True)
class Service:
    name: str
    argv: tuple[str, ...]


def producer_cmd() -> list[str]:
    exe = PEERS / "bin" / "producer"
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-S", str(BENCH / "scenarios" / "producer.py")]


def service(name: str, mode: str, *args: object) -> Service:
    """A producer command line: identical on every repeat (no per-run marker)."""
    return Service(name, (*producer_cmd(), mode, name, *map(str, args)))


@dataclass
class Runner:
    """How one peer is invoked; `argv` builds its command for a Procfile."""

    name: str
    argv: Callable[[Path, list[Service]], list[str]]
    version: str = "?"
    note: str = ""
    env: dict[str, str] = field(default_factory=dict)


def _honcho(procfile: Path, _svcs: list[Service]) -> list[str]:
    return [str(PEERS / "honcho" / "bin" / "honcho"), "-f", str(procfile), "start"]


def _foreman(procfile: Path, _svcs: list[Service]) -> list[str]:
    return [shutil.which("foreman") or "foreman", "start", "-f", str(procfile), "--no-color"]


def _nf(procfile: Path, _svcs: list[Service]) -> list[str]:
    return [str(PEERS / "node" / "node_modules" / ".bin" / "nf"), "start", "-j", str(procfile)]


def _concurrently(_procfile: Path, svcs: list[Service]) -> list[str]:
    # --kill-others / --kill-timeout give Procfile semantics: one exits, all stop;
    # stubborn services are SIGKILLed after 5 s like foreman's default timeout.
    names = ",".join(s.name for s in svcs)
    cmds = [shlex.join(s.argv) for s in svcs]
    return [
        str(PEERS / "node" / "node_modules" / ".bin" / "concurrently"),
        "--kill-others",
        "--kill-timeout",
        "5000",
        "--no-color",
        "-n",
        names,
        *cmds,
    ]


def orchestra_bin() -> str:
    return os.environ.get("ORCHESTRA_BIN") or str(REPO / ".venv" / "bin" / "orchestra")


def orchestra_version() -> str:
    """Package version (from the venv next to the binary) plus the git revision."""
    py = Path(orchestra_bin()).parent / "python"
    code = "import importlib.metadata as m; print(m.version('orchestra'))"
    version = _version([str(py), "-c", code]) if py.exists() else "?"
    rev = _version(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = _version(["git", "-C", str(REPO), "status", "--porcelain", "--", "orchestra"])
    return f"orchestra {version} (git {rev}{'+dirty' if dirty not in ('?', '') else ''})"


def _orchestra(procfile: Path, _svcs: list[Service]) -> list[str]:
    # -t 5: the 5 s stop timeout of the scenarios (foreman's default, concurrently's
    # --kill-timeout 5000).
    return [orchestra_bin(), "up", "-f", str(procfile), "--no-color", "-t", "5"]


def _version(argv: list[str]) -> str:
    try:
        out = subprocess.run(
            argv, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[-1].strip() if out.returncode == 0 and text else "?"


def _npm_version(pkg: str) -> str:
    try:
        meta = json.loads((PEERS / "node" / "node_modules" / pkg / "package.json").read_text())
        return str(meta["version"])
    except (OSError, ValueError, KeyError):
        return "?"


def discover_runners() -> tuple[list[Runner], dict[str, str]]:
    """Runners whose executable exists, plus a skip note for every missing one."""
    notes: dict[str, str] = {}
    with contextlib.suppress(OSError, ValueError):
        notes.update(json.loads(NOTES_FILE.read_text()))
    found: list[Runner] = []
    candidates: list[
        tuple[str, str | None, Callable[[Path, list[Service]], list[str]], Callable[[], str]]
    ] = [
        (
            "honcho",
            str(PEERS / "honcho" / "bin" / "honcho"),
            _honcho,
            lambda: _version([str(PEERS / "honcho" / "bin" / "honcho"), "--version"]),
        ),
        (
            "foreman",
            shutil.which("foreman"),
            _foreman,
            lambda: "ruby-foreman " + _version(["foreman", "version"]),
        ),
        (
            "nf",
            str(PEERS / "node" / "node_modules" / ".bin" / "nf"),
            _nf,
            lambda: "foreman (npm) " + _npm_version("foreman"),
        ),
        (
            "concurrently",
            str(PEERS / "node" / "node_modules" / ".bin" / "concurrently"),
            _concurrently,
            lambda: "concurrently " + _npm_version("concurrently"),
        ),
        ("orchestra", orchestra_bin(), _orchestra, orchestra_version),
    ]
    for name, exe, build, version in candidates:
        if exe and os.access(exe, os.X_OK):
            env = {"XDG_CACHE_HOME": str(CACHE)} if name == "orchestra" else {}
            found.append(Runner(name, build, version(), env=env))
        else:
            notes.setdefault(name, f"not installed ({exe or 'not on PATH'})")
    return found, notes


# --------------------------------------------------------------------------
# Launching and reading


@dataclass
class Stream:
    """Fast reader of the runner's stdout: big os.read calls, per-tag counters.

    Only complete lines are counted, so a tag split across two reads is never
    missed; the text is kept for payload validation after the run.
    """

    fd: int
    tail: bytes = b""
    parts: list[bytes] = field(default_factory=list)
    counts: dict[bytes, int] = field(default_factory=lambda: dict.fromkeys(TAGS, 0))
    first: dict[bytes, float] = field(default_factory=dict)
    last: dict[bytes, float] = field(default_factory=dict)
    lines: int = 0
    eof: bool = False

    def pump(self, timeout: float) -> bool:
        """Read whatever is available within `timeout`; False if nothing came."""
        if self.eof:
            time.sleep(max(0.0, timeout))
            return False
        ready, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
        if not ready:
            return False
        data = os.read(self.fd, 1 << 20)
        now = time.monotonic()
        if not data:
            self.eof = True
            return False
        cut = data.rfind(b"\n")
        if cut < 0:
            self.tail += data
            return True
        complete, self.tail = self.tail + data[: cut + 1], data[cut + 1 :]
        self.parts.append(complete)
        self.lines += complete.count(b"\n")
        for tag in TAGS:
            n = complete.count(tag)
            if n:
                self.counts[tag] += n
                self.first.setdefault(tag, now)
                self.last[tag] = now
        return True

    def text(self) -> bytes:
        return b"".join(self.parts) + self.tail


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
        lines = _read(str(self.stderr_path)).decode(errors="replace").strip().splitlines()
        return " / ".join(dict.fromkeys(line.strip() for line in lines[-4:]))[:200]


def write_procfile(directory: Path, svcs: list[Service]) -> Path:
    """The scenario's Procfile, rewritten only when its content changes.

    Same bytes and same mtime on every repeat, so nothing a config cache could
    look at differs between two runs of a scenario.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "Procfile"
    text = "".join(f"{s.name}: {shlex.join(s.argv)}\n" for s in svcs).encode()
    if _read(str(path)) != text:
        path.write_bytes(text)
    return path


def runner_env(runner: Runner) -> dict[str, str]:
    """The harness's environment plus fixed extras: identical on every run."""
    env = dict(os.environ)
    env.update(NO_COLOR="1", FORCE_COLOR="0", **runner.env)
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


def launch(runner: Runner | None, svcs: list[Service], workdir: Path) -> Handle:
    """Start a runner on a Procfile, or (runner=None) the raw producers on one pipe."""
    rfd, wfd = os.pipe()
    try:
        if runner is None:
            return launch_raw(svcs, rfd, wfd)
        argv = runner.argv(write_procfile(workdir, svcs), svcs)
        env = runner_env(runner)
        # stderr lives outside the working dir, so the dir looks the same every run.
        LOGS.mkdir(parents=True, exist_ok=True)
        err = LOGS / f"{workdir.name}--{runner.name}.txt"
        with open(err, "wb") as errf:
            t0 = time.monotonic()
            proc = subprocess.Popen(
                argv,
                stdout=wfd,
                stderr=errf,
                stdin=subprocess.DEVNULL,
                cwd=workdir,
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


# --------------------------------------------------------------------------
# Scenarios: each returns {metric: value} for one run of one runner.

Metrics = dict[str, float]
RunFn = Callable[[Runner | None, Path], Metrics | list[Metrics]]


def check_payload(data: bytes, expected: dict[str, int]) -> Metrics:
    """Lost / torn / duplicated / reordered payload lines, from the payload alone."""
    if b"\x1b" in data:
        data = ANSI_RE.sub(b"", data)
    seen: dict[bytes, set[int]] = {}
    high: dict[bytes, int] = {}
    torn = dup = reordered = 0
    for line in data.split(b"\n"):
        i = line.find(TAG_PAYLOAD)
        if i < 0:
            continue
        parts = line[i + 3 :].rstrip(b"\r ").split(b" ")
        if len(parts) != 4 or TAG_PAYLOAD in line[i + 3 :]:
            torn += 1
            continue
        svc, seq_b, crc_b, pad = parts
        try:
            ok = zlib.crc32(b" ".join((svc, seq_b, pad))) == int(crc_b, 16)
            seq = int(seq_b)
        except ValueError:
            ok = False
        if not ok:
            torn += 1
            continue
        got = seen.setdefault(svc, set())
        if seq in got:
            dup += 1
            continue
        if seq < high.get(svc, -1):
            reordered += 1
        got.add(seq)
        high[svc] = max(high.get(svc, -1), seq)
    lost = sum(
        n - len(seen.get(name.encode(), set()) & set(range(n))) for name, n in expected.items()
    )
    return {"lost": lost, "torn": torn, "duplicated": dup, "reordered": reordered}


def sc_firehose(cfg: Config, runner: Runner | None, workdir: Path, k: int, linger: bool) -> Metrics:
    """K producers write their share of the lines; time until all are seen."""
    shares = {
        f"s{i:02d}": cfg.firehose_lines // k + (1 if i < cfg.firehose_lines % k else 0)
        for i in range(k)
    }
    svcs = [service(n, "fire", c, "linger" if linger else "exit") for n, c in shares.items()]
    h = launch(runner, svcs, workdir)
    try:
        s, total = h.stream, cfg.firehose_lines
        deadline = h.t_launch + cfg.deadline_s
        while s.counts[TAG_PAYLOAD] < total and not s.eof:
            now = time.monotonic()
            if now > deadline:
                raise RunTimeout(f"{s.counts[TAG_PAYLOAD]}/{total} lines")
            idle_since = s.last.get(TAG_PAYLOAD, h.t_launch)
            if TAG_PAYLOAD in s.last and now - idle_since > cfg.stall_s:
                break  # lines were lost: stop waiting, count them below
            s.pump(0.1)
        if TAG_PAYLOAD not in s.first:
            raise RuntimeError(f"no payload seen {h.stderr_tail()}")
        res = {
            "wall_s": s.last[TAG_PAYLOAD] - h.t_launch,
            "stream_s": s.last[TAG_PAYLOAD] - s.first[TAG_PAYLOAD],
        }
        s.tail += b"\n"
        res.update(check_payload(s.text(), shares))
        return res
    finally:
        teardown(h)


def sc_fleet(cfg: Config, runner: Runner | None, workdir: Path, k: int, memory: bool) -> Metrics:
    """K idle services: time to all READY lines, then (optionally) the runner's PSS."""
    svcs = [service(f"s{i:03d}", "idle") for i in range(k)]
    h = launch(runner, svcs, workdir)
    try:
        t_all = wait_for(h, TAG_READY, k, h.t_launch + cfg.deadline_s)
        res = {
            "first_ready_s": h.stream.first[TAG_READY] - h.t_launch,
            "all_ready_s": t_all - h.t_launch,
        }
        h.track()
        if memory and h.proc is not None:
            pump_for(h, cfg.settle_s)
            helpers = helper_pids(h.proc.pid)
            res["pss_mb"] = sum(pss_kb(p) for p in helpers) / 1024
            res["processes"] = len(helpers)
        return res
    finally:
        teardown(h)


def sc_idle(cfg: Config, runner: Runner | None, workdir: Path) -> list[Metrics]:
    """K idle services: CPU seconds and wake-ups/s of the runner and helpers."""
    svcs = [service(f"s{i:03d}", "idle") for i in range(cfg.idle_k)]
    h = launch(runner, svcs, workdir)
    assert h.proc is not None
    try:
        wait_for(h, TAG_READY, cfg.idle_k, h.t_launch + cfg.deadline_s)
        h.track()
        pump_for(h, cfg.settle_s)
        hz = os.sysconf("SC_CLK_TCK")
        out = []
        for _ in range(cfg.idle_windows):
            pids = helper_pids(h.proc.pid)
            t0, c0, w0 = time.monotonic(), sum(map(cpu_ticks, pids)), sum(map(ctx_switches, pids))
            pump_for(h, cfg.idle_window_s)
            dt_s = time.monotonic() - t0
            c1, w1 = sum(map(cpu_ticks, pids)), sum(map(ctx_switches, pids))
            out.append(
                {"cpu_s_per_10s": (c1 - c0) / hz * 10 / dt_s, "wakeups_per_s": (w1 - w0) / dt_s}
            )
        return out
    finally:
        teardown(h)


def shutdown_services(stubborn: bool) -> list[Service]:
    return [
        service("s1", "idle"),
        service("s2", "parent", 1),
        service("s3", "parent", 2),
        service("s4", "stubborn" if stubborn else "idle"),
        service("s5", "idle"),
    ]


def sc_shutdown(
    cfg: Config,
    runner: Runner | None,
    workdir: Path,
    sig: signal.Signals,
    stubborn: bool,
) -> Metrics:
    """Signal the runner (pid only); time to its exit and processes left after."""
    h = launch(runner, shutdown_services(stubborn), workdir)
    assert h.proc is not None
    try:
        wait_for(h, TAG_READY, 8, h.t_launch + cfg.deadline_s)  # 5 services + 3 grandchildren
        pump_for(h, 0.3)
        h.track()
        t_sig = time.monotonic()
        h.proc.send_signal(sig)
        t_exit = wait_exit(h, cfg.stop_deadline_s + (5.0 if stubborn else 0.0))
        res: Metrics = {"exit_ms": (t_exit - t_sig) * 1000 if t_exit is not None else float("nan")}
        res["left"] = wait_left(h, t_exit or time.monotonic(), cfg.left_wait_s)
        if t_exit is None:
            raise RunTimeout(f"runner still running after {sig.name}; left={res['left']}")
        return res
    finally:
        teardown(h)


def sc_exitcode(cfg: Config, runner: Runner | None, workdir: Path) -> Metrics:
    """One of 5 services exits 3: runner's exit code and time to stop the others."""
    svcs = [
        service("s1", "fail", 500, 3),
        *(service(f"s{i}", "idle") for i in range(2, 6)),
    ]
    h = launch(runner, svcs, workdir)
    assert h.proc is not None
    try:
        wait_for(h, TAG_READY, len(svcs), h.t_launch + cfg.deadline_s)
        h.track()  # before the failure: the others' stop is timed by polling below
        wait_for(h, TAG_EXIT, 1, h.t_launch + cfg.deadline_s)
        text = ANSI_RE.sub(b"", h.stream.text()).decode(errors="replace")
        t_fail = int(re.search(r"@X s1 (\d+)", text).group(1)) / 1e9  # type: ignore[union-attr]
        others = [
            int(m.group(2)) for m in re.finditer(r"@R (s\d) (\d+)", text) if m.group(1) != "s1"
        ]
        deadline = time.monotonic() + cfg.stop_deadline_s
        while any(map(is_alive, others)) and time.monotonic() < deadline:
            h.stream.pump(0.0005)
        t_stopped = time.monotonic()
        if any(map(is_alive, others)):
            raise RunTimeout(
                f"other services still running {cfg.stop_deadline_s:.0f} s after the failure"
            )
        t_exit = wait_exit(h, cfg.stop_deadline_s)
        if t_exit is None:
            raise RunTimeout(f"runner did not exit within {cfg.stop_deadline_s:.0f} s")
        return {
            "exit_code": float(h.proc.returncode),
            "others_stopped_ms": (t_stopped - t_fail) * 1000,
            "runner_exit_ms": (t_exit - t_fail) * 1000,
        }
    finally:
        teardown(h)


def sc_head(cfg: Config, runner: Runner | None, workdir: Path) -> Metrics:
    """`runner | head`: the reader goes away; does the runner exit, leaving nothing?"""
    svcs = [service(f"s{i}", "tick", 20) for i in range(1, 4)]
    h = launch(runner, svcs, workdir)
    assert h.proc is not None
    try:
        deadline = h.t_launch + cfg.deadline_s
        while h.stream.counts[TAG_TICK] < 5:
            if time.monotonic() > deadline or h.stream.eof:
                raise RunTimeout("no tick lines")
            h.stream.pump(0.05)
        h.track()
        os.close(h.stream.fd)
        h.closed = True
        t_close = time.monotonic()
        t_exit = wait_exit(h, cfg.stop_deadline_s)
        res: Metrics = {
            "exit_ms": (t_exit - t_close) * 1000 if t_exit is not None else float("nan")
        }
        res["left"] = wait_left(h, t_exit or time.monotonic(), cfg.left_wait_s)
        if t_exit is None:
            raise RunTimeout(
                f"still running {cfg.stop_deadline_s:.0f} s after its reader closed;"
                f" left={res['left']}"
            )
        return res
    finally:
        teardown(h)


# --------------------------------------------------------------------------
# Orchestration of repeats and results


@dataclass
class Cell:
    """All repeats of one (scenario, runner) pair."""

    samples: list[Metrics] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    # The warm-up repeat of a start-up cell: kept out of the medians, shown as *_cold.
    cold: Metrics | None = None


# Integrity counters report the worst repeat; everything else the median.
WORST_CASE = {"lost", "torn", "duplicated", "reordered", "left", "processes"}
# Metrics of a warm-up repeat that are reported, under these names, next to the
# median of the repeats after it.
COLD_METRICS = {"first_ready_s": "first_ready_cold_s", "pss_mb": "pss_mb_cold"}
# first_ready_s has no ratio: the raw loop only starts reading once all K are spawned.
RATIO_METRICS = {"wall_s", "stream_s", "all_ready_s"}


def summarise(cell: Cell) -> dict[str, float]:
    """Medians of the measured repeats, worst case of integrity counters, cold values.

    Integrity counters include the warm-up repeat: a leak or a lost line is a
    result whether or not a cache was warm.
    """
    every = [*([cell.cold] if cell.cold else []), *cell.samples]
    keys = {k for s in every for k in s}
    out = {}
    for k in keys:
        pool = every if k in WORST_CASE else cell.samples
        vals = [s[k] for s in pool if k in s and s[k] == s[k]]
        if vals:
            out[k] = max(vals) if k in WORST_CASE else statistics.median(vals)
    for k, cold_name in COLD_METRICS.items():
        if cell.cold and k in cell.cold:
            out[cold_name] = cell.cold[k]
    return out


def slug(scenario: str) -> str:
    """Directory name of a scenario's fixed working dir, e.g. start-up-k-50."""
    return re.sub(r"[^a-z0-9]+", "-", scenario.lower()).strip("-")


@dataclass
class Bench:
    cfg: Config
    runners: list[Runner]
    only: set[str] | None
    results: dict[str, dict[str, Cell]] = field(default_factory=dict)
    scenario_order: list[str] = field(default_factory=list)

    def run(
        self, scenario: str, runner: Runner | None, fn: RunFn, repeats: int, warmup: bool = False
    ) -> None:
        """Repeat one scenario for one runner; failures become cell notes, never crashes.

        With `warmup`, one extra first repeat is kept apart as the cold run.
        """
        if self.only and not any(scenario.startswith(o) for o in self.only):
            return
        name = runner.name if runner else RAW
        if scenario not in self.results:
            self.results[scenario] = {}
            self.scenario_order.append(scenario)
        cell = self.results[scenario].setdefault(name, Cell())
        t_start = time.monotonic()
        workdir = WORK / slug(scenario)
        for i in range(repeats + (1 if warmup else 0)):
            if any(f.startswith("timeout") for f in cell.failures):
                break  # a hang repeats identically; do not pay the deadline again
            try:
                got = fn(runner, workdir)
            except RunTimeout as e:
                cell.failures.append(f"timeout: {e}")
                continue
            except Exception as e:  # any peer failure is a result, not a crash
                cell.failures.append(f"error: {type(e).__name__}: {e}")
                continue
            if warmup and i == 0 and isinstance(got, dict):
                cell.cold = got
            else:
                cell.samples.extend(got if isinstance(got, list) else [got])
        summary = summarise(cell)
        shown = ", ".join(f"{k}={fmt(v)}" for k, v in sorted(summary.items()))
        fails = (
            f" [{len(cell.failures)} failed: {cell.failures[-1][:120]}]" if cell.failures else ""
        )
        took = time.monotonic() - t_start
        print(f"  {scenario:<24} {name:<13} {took:5.1f}s  {shown}{fails}", flush=True)


def fmt(v: float) -> str:
    if v != v:
        return "n/a"
    if float(v).is_integer() and abs(v) < 1e6:
        return str(int(v))
    return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"


def smoke(runner: Runner) -> str | None:
    """One idle service must come up under the runner; else the peer is skipped."""
    try:
        h = launch(runner, [service("s1", "idle")], WORK / "smoke")
    except OSError as e:
        return f"cannot start: {e}"
    try:
        wait_for(h, TAG_READY, 1, time.monotonic() + 20)
        return None
    except (RunTimeout, RuntimeError) as e:
        return f"smoke test failed: {e} {h.stderr_tail()}".strip()
    finally:
        teardown(h)


def run_all(bench: Bench) -> None:
    """Every scenario for raw and every runner, side by side in this one process."""
    cfg, rs = bench.cfg, bench.runners
    everyone: list[Runner | None] = [None, *rs]
    for k, linger in ((1, True), (8, True), (8, False)):
        label = f"firehose K={k}" + ("" if linger else " exit")
        print(f"{label} ({cfg.firehose_lines} lines)", flush=True)
        fn: RunFn = functools.partial(sc_firehose, cfg, k=k, linger=linger)
        for r in everyone:
            bench.run(label, r, fn, cfg.repeats)
    for k in sorted({*cfg.startup_ks, *cfg.memory_ks}):
        label = f"start-up K={k}"
        print(label + (" (+ memory)" if k in cfg.memory_ks else ""), flush=True)
        fn = functools.partial(sc_fleet, cfg, k=k, memory=k in cfg.memory_ks)
        for r in everyone:
            bench.run(label, r, fn, cfg.warm_repeats, warmup=True)
    print(f"idle CPU K={cfg.idle_k}", flush=True)
    for r in rs:
        bench.run(f"idle K={cfg.idle_k}", r, functools.partial(sc_idle, cfg), cfg.idle_repeats)
    variants = (
        ("shutdown SIGINT", signal.SIGINT, False, cfg.repeats),
        ("shutdown SIGINT stubborn", signal.SIGINT, True, cfg.stubborn_repeats),
        ("shutdown SIGKILL", signal.SIGKILL, False, cfg.repeats),
    )
    for label, sig, stubborn, n in variants:
        print(label, flush=True)
        fn = functools.partial(sc_shutdown, cfg, sig=sig, stubborn=stubborn)
        for r in rs:
            bench.run(label, r, fn, n)
    print("exit code", flush=True)
    for r in rs:
        bench.run("exit code", r, functools.partial(sc_exitcode, cfg), cfg.repeats)
    print("stdout reader goes away", flush=True)
    for r in rs:
        bench.run("reader gone (head -5)", r, functools.partial(sc_head, cfg), cfg.repeats)


# --------------------------------------------------------------------------
# Reporting


def table_rows(bench: Bench) -> list[tuple[str, str, str, str, str]]:
    """(scenario, runner, metric, value, x raw) rows, in run order."""
    rows = []
    for scen in bench.scenario_order:
        cells = bench.results[scen]
        raw = summarise(cells[RAW]) if RAW in cells else {}
        for name, cell in cells.items():
            summary = summarise(cell)
            if not summary:
                rows.append((scen, name, "-", failure_word(cell), ""))
                continue
            for metric in sorted(summary):
                v = summary[metric]
                ratio = ""
                if metric in RATIO_METRICS and name != RAW and raw.get(metric):
                    ratio = f"{v / raw[metric]:.2f}x"
                mark = "*" if cell.failures else ""
                rows.append((scen, name, metric, fmt(v) + mark, ratio))
        if scen.startswith("start-up K="):
            rows.extend(per_service_rows(bench, scen))
    return rows


def per_service_rows(bench: Bench, scen: str) -> list[tuple[str, str, str, str, str]]:
    """PSS added per service between the two memory fleet sizes."""
    lo, hi = min(bench.cfg.memory_ks), max(bench.cfg.memory_ks)
    if scen != f"start-up K={hi}" or f"start-up K={lo}" not in bench.results:
        return []
    rows = []
    for name, cell in bench.results[scen].items():
        a = summarise(bench.results[f"start-up K={lo}"].get(name, Cell())).get("pss_mb")
        b = summarise(cell).get("pss_mb")
        if a is not None and b is not None:
            rows.append(
                (
                    f"memory K={lo}->{hi}",
                    name,
                    "kb_per_service",
                    fmt((b - a) * 1024 / (hi - lo)),
                    "",
                )
            )
    return rows


def failure_word(cell: Cell) -> str:
    return (
        "timeout"
        if cell.failures and all(f.startswith("timeout") for f in cell.failures)
        else "error"
    )


def render_long(rows: list[tuple[str, str, str, str, str]]) -> str:
    head = ("scenario", "runner", "metric", "value", "x raw")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(5)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [head, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_wide(bench: Bench, rows: list[tuple[str, str, str, str, str]]) -> str:
    """Markdown table: one row per (scenario, metric), one column per runner."""
    names = [RAW, *(r.name for r in bench.runners)]
    table: dict[tuple[str, str], dict[str, str]] = {}
    for scen, name, metric, value, ratio in rows:
        table.setdefault((scen, metric), {})[name] = value + (f" ({ratio})" if ratio else "")
    out = ["| scenario | metric | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for (scen, metric), cells in table.items():
        out.append(f"| {scen} | {metric} | " + " | ".join(cells.get(n, "") for n in names) + " |")
    return "\n".join(out)


def failure_notes(bench: Bench) -> list[str]:
    notes = []
    for scen in bench.scenario_order:
        for name, cell in bench.results[scen].items():
            for f in dict.fromkeys(cell.failures):
                notes.append(f"{scen} / {name}: {f[:200]}")
    return notes


def machine_info() -> dict[str, str]:
    cpu = "?"
    for line in _read("/proc/cpuinfo").decode(errors="replace").splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "kernel": platform.release(),
        "cpu": f"{cpu} x {os.cpu_count()}",
        "python": platform.python_version(),
        "node": _version(["node", "--version"]) if shutil.which("node") else "-",
        "ruby": _version(["ruby", "--version"]) if shutil.which("ruby") else "-",
    }


ANALYSIS_HEADING = "\n## Against the targets"


def kept_analysis() -> str:
    """The hand-written analysis at the end of the current file survives a rewrite of the
    tables above it; it is for a person to update against the new figures."""
    try:
        old = DOCS_FILE.read_text()
    except OSError:
        return ""
    start = old.find(ANALYSIS_HEADING)
    return old[start:] if start >= 0 else ""


def write_docs(
    bench: Bench,
    rows: list[tuple[str, str, str, str, str]],
    skipped: dict[str, str],
    elapsed: float,
) -> None:
    cmd = os.environ.get("BENCH_COMMAND") or "python3 bench/run.py " + " ".join(sys.argv[1:])
    m = machine_info()
    mode = "quick" if bench.cfg.quick else "full"
    mode += f", {bench.cfg.repeats} repeats, {bench.cfg.firehose_lines} firehose lines"
    versions = "\n".join(f"- {r.name}: {r.version}" for r in bench.runners)
    skips = "\n".join(f"- {k}: {v}" for k, v in skipped.items()) or "- none"
    fails = "\n".join(f"- {n}" for n in failure_notes(bench)) or "- none"
    text = f"""# Performance

Side-by-side benchmark of orchestra and the runners it replaces, produced by
`bench/run.py` (see `bench/README.md` for what each scenario measures).
Times are medians of repeats (start-up and memory: of the repeats after a
warm-up run, whose figures are the `*_cold` rows);
lost/torn/duplicated/reordered/left/processes are the worst repeat;
`(N.NNx)` is the ratio to the raw baseline measured in the same run; `*` marks
a cell where some repeats failed (listed below).

- Command: `{cmd}`
- Date: {dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")}
- Mode: {mode}, took {elapsed:.0f} s
- Kernel (`uname -r`): {m["kernel"]}
- CPU: {m["cpu"]}
- Python: {m["python"]}; node: {m["node"]}; ruby: {m["ruby"]}

## Runners

{versions}

Skipped:

{skips}

## Results

{render_wide(bench, rows)}

## Failed repeats

{fails}
"""
    DOCS_FILE.parent.mkdir(parents=True, exist_ok=True)
    DOCS_FILE.write_text(text + kept_analysis())
    print(f"wrote {DOCS_FILE.relative_to(REPO)}")


# --------------------------------------------------------------------------
# Installing peers


def _sh(argv: list[str], cwd: Path | None = None, timeout: float = 900) -> tuple[bool, str]:
    print("  $ " + shlex.join(argv), flush=True)
    try:
        out = subprocess.run(
            argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, str(e)
    tail = (out.stderr or out.stdout).strip().splitlines()[-3:]
    return out.returncode == 0, " / ".join(tail)[:300]


def install_producer() -> str | None:
    exe, src = PEERS / "bin" / "producer", BENCH / "scenarios" / "producer.c"
    if exe.exists() and exe.stat().st_mtime >= src.stat().st_mtime:
        return None
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        return "no C compiler: using the slower Python producer"
    exe.parent.mkdir(parents=True, exist_ok=True)
    ok, msg = _sh([cc, "-O2", "-o", str(exe), str(src)])
    return None if ok else f"producer build failed ({msg}): using the Python producer"


def install_honcho() -> str | None:
    venv = PEERS / "honcho"
    req = PEER_SPECS / "requirements-honcho.txt"
    stamp = venv / ".installed"
    if stamp.exists() and stamp.read_bytes() == req.read_bytes():
        return None
    ok, msg = _sh([sys.executable, "-m", "venv", "--clear", str(venv)])
    if ok:
        ok, msg = _sh(
            [
                str(venv / "bin" / "pip"),
                "install",
                "-q",
                "--disable-pip-version-check",
                "-r",
                str(req),
            ]
        )
    if not ok:
        return f"pip install failed: {msg}"
    stamp.write_bytes(req.read_bytes())
    return None


def install_node() -> dict[str, str]:
    dest = PEERS / "node"
    lock = PEER_SPECS / "package-lock.json"
    if not shutil.which("npm"):
        return dict.fromkeys(("nf", "concurrently"), "npm not found")
    stamp = dest / ".installed"
    if stamp.exists() and stamp.read_bytes() == lock.read_bytes():
        return {}
    dest.mkdir(parents=True, exist_ok=True)
    for f in ("package.json", "package-lock.json"):
        shutil.copy(PEER_SPECS / f, dest / f)
    ok, msg = _sh(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=dest)
    if not ok:
        return dict.fromkeys(("nf", "concurrently"), f"npm ci failed: {msg}")
    stamp.write_bytes(lock.read_bytes())
    return {}


def install_foreman() -> str | None:
    if shutil.which("foreman"):
        return None
    if not shutil.which("apt-get") or os.geteuid() != 0:
        return "ruby-foreman not installed (needs root and apt-get: apt-get install ruby-foreman)"
    ok, msg = _sh(["apt-get", "install", "-y", "-q", "ruby-foreman"])
    if not ok:
        _sh(["apt-get", "update", "-q"])
        ok, msg = _sh(["apt-get", "install", "-y", "-q", "ruby-foreman"])
    return None if ok and shutil.which("foreman") else f"apt-get install ruby-foreman failed: {msg}"


def install_peers() -> None:
    """Install every peer in isolation under bench/.peers; record why any failed."""
    print("installing peers into bench/.peers", flush=True)
    PEERS.mkdir(parents=True, exist_ok=True)
    notes: dict[str, str] = {}
    if msg := install_producer():
        notes["producer"] = msg
    if msg := install_honcho():
        notes["honcho"] = msg
    notes.update(install_node())
    if msg := install_foreman():
        notes["foreman"] = msg
    NOTES_FILE.write_text(json.dumps(notes, indent=1))
    for k, v in notes.items():
        print(f"  note: {k}: {v}")


# --------------------------------------------------------------------------


def reset_cache() -> None:
    """Empty orchestra's invocation cache: every bench run starts cold."""
    shutil.rmtree(CACHE, ignore_errors=True)
    CACHE.mkdir(parents=True, exist_ok=True)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smaller sizes, finishes in < 3 minutes")
    p.add_argument("--install", action="store_true", help="install the peers first")
    p.add_argument("--install-only", action="store_true", help="install the peers and exit")
    p.add_argument("--write-docs", action="store_true", help="rewrite docs/PERFORMANCE.md")
    p.add_argument("--repeats", type=int, help="repeats per cell (>= 3 for published numbers)")
    p.add_argument("--runners", help="comma-separated subset of runners (raw always runs)")
    p.add_argument(
        "--only", help="comma-separated scenario name prefixes, e.g. 'firehose,exit code'"
    )
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    atexit.register(kill_sessions, ACTIVE_SESSIONS)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.install or args.install_only:
        install_peers()
        if args.install_only:
            return 0
    elif msg := install_producer():
        print(f"note: {msg}")
    cfg = Config.make(args.quick, args.repeats)
    reset_cache()
    runners, skipped = discover_runners()
    if args.runners:
        wanted = set(args.runners.split(","))
        runners = [r for r in runners if r.name in wanted]
    usable = []
    for r in runners:
        if why := smoke(r):
            skipped[r.name] = why
        else:
            usable.append(r)
    skipped.pop("producer", None)
    for name, why in skipped.items():
        print(f"skipping {name}: {why}")
    print("runners: " + ", ".join(f"{r.name} ({r.version})" for r in usable), flush=True)
    bench = Bench(cfg, usable, set(args.only.split(",")) if args.only else None)
    t0 = time.monotonic()
    run_all(bench)
    elapsed = time.monotonic() - t0
    rows = table_rows(bench)
    print()
    print(render_long(rows))
    print(f"\n{'quick' if cfg.quick else 'full'} run took {elapsed:.0f} s")
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(
        json.dumps({"rows": rows, "skipped": skipped, "failures": failure_notes(bench)}, indent=1)
    )
    if args.write_docs:
        write_docs(bench, rows, skipped, elapsed)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
