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
from bench.targets import render_targets_markdown, target_rows


def machine_info() -> dict[str, str]:
    """What the run ran on, for the page's header."""
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


ANALYSIS_HEADING = "\n## Analysis"


def kept_analysis() -> str:
    """The hand-written analysis at the end of the current file survives a rewrite of the
    sections above it; it is for a person to update against the new figures."""
    try:
        old = DOCS_FILE.read_text()
    except OSError:
        return ""
    start = old.find(ANALYSIS_HEADING)
    return old[start:] if start >= 0 else ""


METHOD = """\
Side-by-side benchmark of orchestra and the runners it replaces, produced by
`bench/run.py` (see `bench/README.md` for what each scenario measures).

**Cold figures are the headline.** Every repeat of every scenario, for every
runner alike, runs in a new project folder with a new, empty cache folder
(`XDG_CACHE_HOME`), so nothing an earlier repeat left behind helps it: what a
fresh clone, a new terminal or a CI job sees. Every row whose metric has no
`_warm` in its name is such a cold run, and the targets are judged on them.

**Warm figures are secondary.** In the start-up and memory scenarios each cold
run is followed by the same command in the same folder with the same
environment, a second time; its figures are the `_warm` rows
(`first_ready_warm_s`, `all_ready_warm_s`, `pss_mb_warm`,
`kb_per_service_warm`): what a runner's own cache, if it has one, saves on a
repeated run.

Times are medians of the repeats; lost/torn/duplicated/reordered/left/processes
are the worst repeat (cold or warm); `(N.NNx)` is the ratio to the raw baseline
measured in the same run (the raw loop has no cache: a `_warm` row is compared
with its one figure); `(N.NNx honcho)`, in start-up K=1, is the ratio to
honcho's figure of the same kind in the same run; `*` marks a cell where some
repeats failed (listed below)."""


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

{METHOD}

- Command: `{cmd}`
- Date: {dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")}
- Mode: {mode}, took {elapsed:.0f} s
- Kernel (`uname -r`): {m["kernel"]}
- CPU: {m["cpu"]}
- Python: {m["python"]}; node: {m["node"]}; ruby: {m["ruby"]}

## Against the targets

The targets of the cold-start issue, judged on this run's cold figures (this
section is rewritten by every run that writes this file).

{render_targets_markdown(target_rows(bench))}

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
