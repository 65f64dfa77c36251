"""The whole suite: every scenario for the raw baseline and every runner, in one process.

`Bench` repeats one scenario for one runner and keeps the results; a failure
of a peer becomes a note in its cell, never a crash of the bench.
"""

from __future__ import annotations

import functools
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.config import Config
from bench.harness import RunTimeout
from bench.place import Place, discard, fresh_place
from bench.results import Cell, Metrics, fmt, summarise
from bench.runners import RAW, Runner
from bench.scenarios.firehose import sc_firehose
from bench.scenarios.fleet import sc_fleet, sc_idle
from bench.scenarios.stopping import sc_exitcode, sc_head, sc_shutdown

RunFn = Callable[[Runner | None, Place], Metrics | list[Metrics]]


@dataclass
class Bench:
    """The results of one bench run, filled cell by cell in the order scenarios ran."""

    cfg: Config
    runners: list[Runner]
    only: set[str] | None
    results: dict[str, dict[str, Cell]] = field(default_factory=dict)
    scenario_order: list[str] = field(default_factory=list)

    def run(self, scenario: str, runner: Runner | None, fn: RunFn, repeats: int) -> None:
        """Repeat one scenario for one runner; failures become cell notes, never crashes.

        Every repeat runs in a place of its own, new and empty: no repeat is
        helped by what an earlier one left behind.
        """
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
            place = fresh_place(scenario, name)
            try:
                got = fn(runner, place)
            except RunTimeout as e:
                cell.failures.append(f"timeout: {e}")
                continue
            except Exception as e:  # any peer failure is a result, not a crash
                cell.failures.append(f"error: {type(e).__name__}: {e}")
                continue
            finally:
                discard(place)
            cell.samples.extend(got if isinstance(got, list) else [got])
        summary = summarise(cell)
        shown = ", ".join(f"{k}={fmt(v)}" for k, v in sorted(summary.items()))
        fails = (
            f" [{len(cell.failures)} failed: {cell.failures[-1][:120]}]" if cell.failures else ""
        )
        took = time.monotonic() - t_start
        print(f"  {scenario:<24} {name:<13} {took:5.1f}s  {shown}{fails}", flush=True)


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
