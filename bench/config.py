"""Where the bench keeps its files, and the sizes of a full or a quick run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PEERS = BENCH / ".peers"
PEER_SPECS = BENCH / "peers"
NOTES_FILE = PEERS / "install-notes.json"
RESULTS_FILE = PEERS / "last-results.json"
DOCS_FILE = REPO / "docs" / "PERFORMANCE.md"
WORK = BENCH / ".work"
LOGS = WORK / "logs"
# A fresh project folder and cache folder per repeat, under here (see place.py).
PLACES = WORK / "places"


@dataclass(frozen=True)
class Config:
    """Sizes and repeat counts; quick mode shrinks them to fit in < 3 minutes."""

    quick: bool
    # Cold repeats per cell; in start-up/memory cells each one is followed by its
    # warm repeat (same folder, same environment), see bench/README.md.
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
