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
import tempfile
import time
import uuid
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

# Every producer gets this token (plus a per-run suffix) as its last argument,
# so leftovers can be found in /proc whatever the runner did to them.
SESSION_TOKEN = f"obench-{os.getpid()}-{uuid.uuid4().hex[:8]}"
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


def marked_pids(token: str, exclude: tuple[int, ...] = ()) -> list[int]:
    """Live (non-zombie) processes whose command line carries the run token."""
    needle = token.encode()
    me = os.getpid()
    return [
        pid
        for pid in all_pids()
        if pid != me and pid not in exclude and needle in _read(f"/proc/{pid}/cmdline")
    ]


def kill_marked(token: str, exclude: tuple[int, ...] = ()) -> None:
    """SIGKILL every process carrying the token until none is left (bounded)."""
    for _ in range(50):
        pids = marked_pids(token, exclude)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)


def proc_stat(pid: int) -> list[str]:
    """Fields of /proc/PID/stat after the command name (index 0 = state)."""
    raw = _read(f"/proc/{pid}/stat").decode(errors="replace")
    return raw[raw.rfind(")") + 2 :].split() if raw else []


def is_alive(pid: int) -> bool:
    st = proc_stat(pid)
    return bool(st) and st[0] not in ("Z", "X")


def helper_pids(root: int, token: str) -> list[int]:
    """The runner and its descendants that are not services (no run token)."""
    children: dict[int, list[int]] = {}
    for pid in all_pids():
        st = proc_stat(pid)
        if len(st) > 1:
            children.setdefault(int(st[1]), []).append(pid)
    needle = token.encode()
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


def service(name: str, token: str, *args: object) -> Service:
    return Service(name, (*producer_cmd(), str(args[0]), name, *map(str, args[1:]), token))


@dataclass
class Runner:
    """How one peer is invoked; `argv` builds its command for a Procfile."""

    name: str
    argv: Callable[[Path, list[Service]], list[str]]
    version: str = "?"
    note: str = ""


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
    return [orchestra_bin(), "up", "-f", str(procfile), "--no-color"]


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
            found.append(Runner(name, build, version()))
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
    token: str
    t_launch: float
    stream: Stream
    proc: subprocess.Popen[bytes] | None = None
    raw_procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    stderr_path: Path | None = None
    closed: bool = False

    def stderr_tail(self) -> str:
        if not self.stderr_path:
            return ""
        lines = _read(str(self.stderr_path)).decode(errors="replace").strip().splitlines()
        return " / ".join(dict.fromkeys(line.strip() for line in lines[-4:]))[:200]


def write_procfile(directory: Path, svcs: list[Service]) -> Path:
    path = directory / "Procfile"
    path.write_text("".join(f"{s.name}: {shlex.join(s.argv)}\n" for s in svcs))
    return path


def runner_env(token: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(NO_COLOR="1", FORCE_COLOR="0", BENCH_RUN_ID=token)
    return env


def launch(runner: Runner | None, svcs: list[Service], token: str, workdir: Path) -> Handle:
    """Start a runner on a Procfile, or (runner=None) the raw producers on one pipe."""
    rfd, wfd = os.pipe()
    try:
        if runner is None:
            t0 = time.monotonic()
            procs = [
                subprocess.Popen(
                    s.argv, stdout=wfd, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
                for s in svcs
            ]
            return Handle(RAW, token, t0, Stream(rfd), raw_procs=procs)
        argv = runner.argv(write_procfile(workdir, svcs), svcs)
        err = workdir / "stderr.txt"
        with open(err, "wb") as errf:
            t0 = time.monotonic()
            proc = subprocess.Popen(
                argv,
                stdout=wfd,
                stderr=errf,
                stdin=subprocess.DEVNULL,
                cwd=workdir,
                env=runner_env(token),
                start_new_session=True,
            )
        return Handle(runner.name, token, t0, Stream(rfd), proc=proc, stderr_path=err)
    except BaseException:
        os.close(rfd)
        raise
    finally:
        os.close(wfd)


def teardown(h: Handle) -> None:
    """Kill the runner's group and every marked process, reap, close the pipe."""
    if h.proc is not None:
        with contextlib.suppress(OSError):
            os.killpg(h.proc.pid, signal.SIGKILL)
    for p in h.raw_procs:
        if p.poll() is None:
            p.kill()
    kill_marked(h.token)
    for p in [*h.raw_procs, *([h.proc] if h.proc else [])]:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
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


def wait_left(token: str, since: float, wait_s: float, exclude: tuple[int, ...] = ()) -> int:
    """Marked processes alive `wait_s` after `since`; stops early once none is left."""
    end = since + wait_s
    while True:
        n = len(marked_pids(token, exclude))
        if n == 0 or time.monotonic() >= end:
            return n
        time.sleep(min(0.05, max(0.0, end - time.monotonic())))


# --------------------------------------------------------------------------
# Scenarios: each returns {metric: value} for one run of one runner.

Metrics = dict[str, float]
RunFn = Callable[[Runner | None, str, Path], Metrics | list[Metrics]]


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


def sc_firehose(
    cfg: Config, runner: Runner | None, token: str, workdir: Path, k: int, linger: bool
) -> Metrics:
    """K producers write their share of the lines; time until all are seen."""
    shares = {
        f"s{i:02d}": cfg.firehose_lines // k + (1 if i < cfg.firehose_lines % k else 0)
        for i in range(k)
    }
    svcs = [service(n, token, "fire", c, "linger" if linger else "exit") for n, c in shares.items()]
    h = launch(runner, svcs, token, workdir)
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


def sc_fleet(
    cfg: Config, runner: Runner | None, token: str, workdir: Path, k: int, memory: bool
) -> Metrics:
    """K idle services: time to all READY lines, then (optionally) the runner's PSS."""
    svcs = [service(f"s{i:03d}", token, "idle") for i in range(k)]
    h = launch(runner, svcs, token, workdir)
    try:
        t_all = wait_for(h, TAG_READY, k, h.t_launch + cfg.deadline_s)
        res = {
            "first_ready_s": h.stream.first[TAG_READY] - h.t_launch,
            "all_ready_s": t_all - h.t_launch,
        }
        if memory and h.proc is not None:
            pump_for(h, cfg.settle_s)
            helpers = helper_pids(h.proc.pid, token)
            res["pss_mb"] = sum(pss_kb(p) for p in helpers) / 1024
            res["processes"] = len(helpers)
        return res
    finally:
        teardown(h)


def sc_idle(cfg: Config, runner: Runner | None, token: str, workdir: Path) -> list[Metrics]:
    """K idle services: CPU seconds and wake-ups/s of the runner and helpers."""
    svcs = [service(f"s{i:03d}", token, "idle") for i in range(cfg.idle_k)]
    h = launch(runner, svcs, token, workdir)
    assert h.proc is not None
    try:
        wait_for(h, TAG_READY, cfg.idle_k, h.t_launch + cfg.deadline_s)
        pump_for(h, cfg.settle_s)
        hz = os.sysconf("SC_CLK_TCK")
        out = []
        for _ in range(cfg.idle_windows):
            pids = helper_pids(h.proc.pid, token)
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


def shutdown_services(token: str, stubborn: bool) -> list[Service]:
    return [
        service("s1", token, "idle"),
        service("s2", token, "parent", 1),
        service("s3", token, "parent", 2),
        service("s4", token, "stubborn" if stubborn else "idle"),
        service("s5", token, "idle"),
    ]


def sc_shutdown(
    cfg: Config,
    runner: Runner | None,
    token: str,
    workdir: Path,
    sig: signal.Signals,
    stubborn: bool,
) -> Metrics:
    """Signal the runner (pid only); time to its exit and processes left after."""
    h = launch(runner, shutdown_services(token, stubborn), token, workdir)
    assert h.proc is not None
    try:
        wait_for(h, TAG_READY, 8, h.t_launch + cfg.deadline_s)  # 5 services + 3 grandchildren
        pump_for(h, 0.3)
        t_sig = time.monotonic()
        h.proc.send_signal(sig)
        t_exit = wait_exit(h, cfg.stop_deadline_s + (5.0 if stubborn else 0.0))
        res: Metrics = {"exit_ms": (t_exit - t_sig) * 1000 if t_exit is not None else float("nan")}
        res["left"] = wait_left(token, t_exit or time.monotonic(), cfg.left_wait_s, (h.proc.pid,))
        if t_exit is None:
            raise RunTimeout(f"runner still running after {sig.name}; left={res['left']}")
        return res
    finally:
        teardown(h)


def sc_exitcode(cfg: Config, runner: Runner | None, token: str, workdir: Path) -> Metrics:
    """One of 5 services exits 3: runner's exit code and time to stop the others."""
    svcs = [
        service("s1", token, "fail", 500, 3),
        *(service(f"s{i}", token, "idle") for i in range(2, 6)),
    ]
    h = launch(runner, svcs, token, workdir)
    assert h.proc is not None
    try:
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


def sc_head(cfg: Config, runner: Runner | None, token: str, workdir: Path) -> Metrics:
    """`runner | head`: the reader goes away; does the runner exit, leaving nothing?"""
    svcs = [service(f"s{i}", token, "tick", 20) for i in range(1, 4)]
    h = launch(runner, svcs, token, workdir)
    assert h.proc is not None
    try:
        deadline = h.t_launch + cfg.deadline_s
        while h.stream.counts[TAG_TICK] < 5:
            if time.monotonic() > deadline or h.stream.eof:
                raise RunTimeout("no tick lines")
            h.stream.pump(0.05)
        os.close(h.stream.fd)
        h.closed = True
        t_close = time.monotonic()
        t_exit = wait_exit(h, cfg.stop_deadline_s)
        res: Metrics = {
            "exit_ms": (t_exit - t_close) * 1000 if t_exit is not None else float("nan")
        }
        res["left"] = wait_left(token, t_exit or time.monotonic(), cfg.left_wait_s, (h.proc.pid,))
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


# Integrity counters report the worst repeat; everything else the median.
WORST_CASE = {"lost", "torn", "duplicated", "reordered", "left", "processes"}
# first_ready_s has no ratio: the raw loop only starts reading once all K are spawned.
RATIO_METRICS = {"wall_s", "stream_s", "all_ready_s"}


def summarise(cell: Cell) -> dict[str, float]:
    keys = {k for s in cell.samples for k in s}
    out = {}
    for k in keys:
        vals = [s[k] for s in cell.samples if k in s and s[k] == s[k]]
        if vals:
            out[k] = max(vals) if k in WORST_CASE else statistics.median(vals)
    return out


@dataclass
class Bench:
    cfg: Config
    runners: list[Runner]
    only: set[str] | None
    results: dict[str, dict[str, Cell]] = field(default_factory=dict)
    scenario_order: list[str] = field(default_factory=list)
    run_no: int = 0

    def run(self, scenario: str, runner: Runner | None, fn: RunFn, repeats: int) -> None:
        """Repeat one scenario for one runner; failures become cell notes, never crashes."""
        if self.only and not any(scenario.startswith(o) for o in self.only):
            return
        name = runner.name if runner else RAW
        if scenario not in self.results:
            self.results[scenario] = {}
            self.scenario_order.append(scenario)
        cell = self.results[scenario].setdefault(name, Cell())
        t_start = time.monotonic()
        for _ in range(repeats):
            if any(f.startswith("timeout") for f in cell.failures):
                break  # a hang repeats identically; do not pay the deadline again
            self.run_no += 1
            token = f"{SESSION_TOKEN}-{self.run_no}"
            with tempfile.TemporaryDirectory(prefix="obench-") as tmp:
                try:
                    got = fn(runner, token, Path(tmp))
                    cell.samples.extend(got if isinstance(got, list) else [got])
                except RunTimeout as e:
                    cell.failures.append(f"timeout: {e}")
                except Exception as e:  # any peer failure is a result, not a crash
                    cell.failures.append(f"error: {type(e).__name__}: {e}")
                finally:
                    kill_marked(token)
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
    token = f"{SESSION_TOKEN}-smoke-{runner.name}"
    with tempfile.TemporaryDirectory(prefix="obench-") as tmp:
        try:
            h = launch(runner, [service("s1", token, "idle")], token, Path(tmp))
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
            bench.run(label, r, fn, cfg.repeats)
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
Times are medians of repeats; lost/torn/duplicated/reordered/left/processes
are the worst repeat; `(N.NNx)` is the ratio to the raw baseline measured in
the same run; `*` marks a cell where some repeats failed (listed below).

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
    DOCS_FILE.write_text(text)
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
    atexit.register(kill_marked, SESSION_TOKEN)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.install or args.install_only:
        install_peers()
        if args.install_only:
            return 0
    elif msg := install_producer():
        print(f"note: {msg}")
    cfg = Config.make(args.quick, args.repeats)
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
