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
