"""The repeats of one (scenario, runner) cell and how they are summarised.

Times are medians; integrity counters are the worst repeat.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

Metrics = dict[str, float]


@dataclass
class Cell:
    """All repeats of one (scenario, runner) pair."""

    samples: list[Metrics] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


# Integrity counters report the worst repeat; everything else the median.
WORST_CASE = {"lost", "torn", "duplicated", "reordered", "left", "processes"}
# Metrics shown with their ratio to the raw baseline's metric of this name. The raw
# loop has no cache, so a warm figure is compared with its one (cold) figure.
# first_ready_s has no raw ratio: the raw loop only starts reading once all K are spawned.
RAW_RATIO_OF = {
    "wall_s": "wall_s",
    "stream_s": "stream_s",
    "all_ready_s": "all_ready_s",
    "all_ready_warm_s": "all_ready_s",
}
# Metrics of the boot scenario shown with their ratio to honcho's, like with like.
BOOT_SCENARIO = "start-up K=1"
HONCHO_RATIO = {"first_ready_s", "first_ready_warm_s"}


def warm_name(metric: str) -> str:
    """The name of a metric measured on the warm repeat: pss_mb -> pss_mb_warm,
    first_ready_s -> first_ready_warm_s (the unit stays last)."""
    if metric.endswith("_s"):
        return metric[:-2] + "_warm_s"
    return metric + "_warm"


def summarise(cell: Cell) -> dict[str, float]:
    """Medians of the repeats, and the worst repeat for integrity counters."""
    keys = {k for s in cell.samples for k in s}
    out = {}
    for k in keys:
        vals = [s[k] for s in cell.samples if k in s and s[k] == s[k]]
        if vals:
            out[k] = max(vals) if k in WORST_CASE else statistics.median(vals)
    return out


def fmt(v: float) -> str:
    """A figure as printed: integers bare, three decimals below 10, one above."""
    if v != v:
        return "n/a"
    if float(v).is_integer() and abs(v) < 1e6:
        return str(int(v))
    return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"


def failure_word(cell: Cell) -> str:
    """What a cell with no result shows: "timeout" only if every failure was one."""
    return (
        "timeout"
        if cell.failures and all(f.startswith("timeout") for f in cell.failures)
        else "error"
    )
