"""A fleet of idle services: start-up time, the runner's memory, and its idle cost."""

from __future__ import annotations

import os
import time

from bench.config import Config
from bench.harness import launch, pump_for, teardown, wait_for
from bench.place import Place
from bench.procfs import cpu_ticks, ctx_switches, helper_pids, pss_kb
from bench.results import Metrics, warm_name
from bench.runners import Runner, service, service_needle
from bench.stream import TAG_READY


def sc_fleet(cfg: Config, runner: Runner | None, place: Place, k: int, memory: bool) -> Metrics:
    """The cold run in a fresh place, then a runner's warm run in the same place.

    The warm run is the same command in the same folder with the same
    environment, a second time: what a cache of the runner's, if it has one,
    is for. Its figures get `_warm` names; `processes` is the larger of the two.
    The raw baseline has nothing to warm and runs once.
    """
    cold = fleet_run(cfg, runner, place, k, memory)
    if runner is None:
        return cold
    out = dict(cold)
    for metric, value in fleet_run(cfg, runner, place, k, memory).items():
        if metric == "processes":
            out[metric] = max(value, out.get(metric, value))
        else:
            out[warm_name(metric)] = value
    return out


def fleet_run(cfg: Config, runner: Runner | None, place: Place, k: int, memory: bool) -> Metrics:
    """K idle services: time to all READY lines, then (optionally) the runner's PSS."""
    svcs = [service(f"s{i:03d}", "idle") for i in range(k)]
    h = launch(runner, svcs, place)
    try:
        t_all = wait_for(h, TAG_READY, k, h.t_launch + cfg.deadline_s)
        res = {
            "first_ready_s": h.stream.first[TAG_READY] - h.t_launch,
            "all_ready_s": t_all - h.t_launch,
        }
        h.track()
        if memory and h.proc is not None:
            pump_for(h, cfg.settle_s)
            helpers = helper_pids(h.proc.pid, service_needle())
            res["pss_mb"] = sum(pss_kb(p) for p in helpers) / 1024
            res["processes"] = len(helpers)
        return res
    finally:
        teardown(h)


def sc_idle(cfg: Config, runner: Runner | None, place: Place) -> list[Metrics]:
    """K idle services: CPU seconds and wake-ups/s of the runner and helpers."""
    svcs = [service(f"s{i:03d}", "idle") for i in range(cfg.idle_k)]
    h = launch(runner, svcs, place)
    assert h.proc is not None
    try:
        wait_for(h, TAG_READY, cfg.idle_k, h.t_launch + cfg.deadline_s)
        h.track()
        pump_for(h, cfg.settle_s)
        hz = os.sysconf("SC_CLK_TCK")
        out = []
        for _ in range(cfg.idle_windows):
            pids = helper_pids(h.proc.pid, service_needle())
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
