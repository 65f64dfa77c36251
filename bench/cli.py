"""Side-by-side benchmark of orchestra against honcho, foreman, nf and concurrently.

The command line of bench/run.py (and `python3 -m bench`): install the peers,
smoke-test each runner, run the suite, print the table, optionally rewrite
docs/PERFORMANCE.md.  Every scenario is expressed as a Procfile, every peer
runs it the way its users would, and a raw baseline (the same producers
without any runner) is measured in the same invocation so ratios are
comparable across machines.  See bench/README.md for what each scenario means.
"""

from __future__ import annotations

import argparse
import atexit
import json
import signal
import sys
import time

from bench.config import RESULTS_FILE, Config
from bench.docs_page import write_docs
from bench.harness import smoke
from bench.install import install_peers, install_producer
from bench.place import clear_places
from bench.procfs import ACTIVE_SESSIONS, kill_sessions
from bench.report import failure_notes, render_long, table_rows
from bench.runners import discover_runners
from bench.suite import Bench, run_all
from bench.targets import render_targets_text, target_rows, verdict_word


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smaller sizes, finishes in < 3 minutes")
    p.add_argument("--install", action="store_true", help="install the peers first")
    p.add_argument("--install-only", action="store_true", help="install the peers and exit")
    p.add_argument("--write-docs", action="store_true", help="rewrite docs/PERFORMANCE.md")
    p.add_argument(
        "--repeats",
        type=int,
        help="cold repeats per cell, each start-up one followed by its warm run"
        " (>= 3 for published numbers)",
    )
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
    clear_places()
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
    targets = target_rows(bench)
    print()
    print(render_targets_text(targets))
    print(f"\n{'quick' if cfg.quick else 'full'} run took {elapsed:.0f} s")
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(
        json.dumps(
            {
                "rows": rows,
                "targets": [(t, v.measured, verdict_word(v)) for t, v in targets],
                "skipped": skipped,
                "failures": failure_notes(bench),
            },
            indent=1,
        )
    )
    if args.write_docs:
        write_docs(bench, rows, skipped, elapsed)
    return 0
