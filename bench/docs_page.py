"""Writing docs/PERFORMANCE.md: the run's context, the tables, and the kept analysis."""

from __future__ import annotations

import datetime as dt
import os
import platform
import shutil
import sys

from bench.config import DOCS_FILE, REPO
from bench.procfs import read_bytes
from bench.report import Row, failure_notes, render_wide
from bench.runners import tool_version
from bench.suite import Bench


def machine_info() -> dict[str, str]:
    cpu = "?"
    for line in read_bytes("/proc/cpuinfo").decode(errors="replace").splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "kernel": platform.release(),
        "cpu": f"{cpu} x {os.cpu_count()}",
        "python": platform.python_version(),
        "node": tool_version(["node", "--version"]) if shutil.which("node") else "-",
        "ruby": tool_version(["ruby", "--version"]) if shutil.which("ruby") else "-",
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
    rows: list[Row],
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
