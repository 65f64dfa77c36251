"""How a run ends: Ctrl-C and SIGKILL of the runner, a failing service, a reader gone."""

from __future__ import annotations

import os
import re
import signal
import time

from bench.config import Config
from bench.harness import RunTimeout, launch, pump_for, teardown, wait_exit, wait_for, wait_left
from bench.place import Place
from bench.procfs import is_alive
from bench.results import Metrics
from bench.runners import Runner, Service, service
from bench.stream import ANSI_RE, TAG_EXIT, TAG_READY, TAG_TICK


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
    place: Place,
    sig: signal.Signals,
    stubborn: bool,
) -> Metrics:
    """Signal the runner (pid only); time to its exit and processes left after."""
    h = launch(runner, shutdown_services(stubborn), place)
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


def sc_exitcode(cfg: Config, runner: Runner | None, place: Place) -> Metrics:
    """One of 5 services exits 3: runner's exit code and time to stop the others."""
    svcs = [
        service("s1", "fail", 500, 3),
        *(service(f"s{i}", "idle") for i in range(2, 6)),
    ]
    h = launch(runner, svcs, place)
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


def sc_head(cfg: Config, runner: Runner | None, place: Place) -> Metrics:
    """`runner | head`: the reader goes away; does the runner exit, leaving nothing?"""
    svcs = [service(f"s{i}", "tick", 20) for i in range(1, 4)]
    h = launch(runner, svcs, place)
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
