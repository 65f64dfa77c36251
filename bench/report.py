"""The results as rows and tables: the console table and the Markdown table of the docs."""

from __future__ import annotations

from bench.results import (
    BOOT_SCENARIO,
    HONCHO_RATIO,
    RAW_RATIO_OF,
    Cell,
    failure_word,
    fmt,
    summarise,
)
from bench.runners import RAW
from bench.suite import Bench

# (scenario, runner, metric, value, x raw, x honcho)
Row = tuple[str, str, str, str, str, str]
HEAD: Row = ("scenario", "runner", "metric", "value", "x raw", "x honcho")


def table_rows(bench: Bench) -> list[Row]:
    """(scenario, runner, metric, value, x raw, x honcho) rows, in run order."""
    rows: list[Row] = []
    for scen in bench.scenario_order:
        cells = bench.results[scen]
        raw = summarise(cells[RAW]) if RAW in cells else {}
        honcho = summarise(cells["honcho"]) if scen == BOOT_SCENARIO and "honcho" in cells else {}
        for name, cell in cells.items():
            summary = summarise(cell)
            if not summary:
                rows.append((scen, name, "-", failure_word(cell), "", ""))
                continue
            for metric in sorted(summary):
                v = summary[metric]
                x_raw = x_honcho = ""
                base = raw.get(RAW_RATIO_OF.get(metric, ""))
                if name != RAW and base:
                    x_raw = f"{v / base:.2f}x"
                if metric in HONCHO_RATIO and name not in (RAW, "honcho") and honcho.get(metric):
                    x_honcho = f"{v / honcho[metric]:.2f}x"
                mark = "*" if cell.failures else ""
                rows.append((scen, name, metric, fmt(v) + mark, x_raw, x_honcho))
        if scen.startswith("start-up K="):
            rows.extend(per_service_rows(bench, scen))
    return rows


def per_service_rows(bench: Bench, scen: str) -> list[Row]:
    """PSS added per service between the two memory fleet sizes, cold and warm."""
    lo, hi = min(bench.cfg.memory_ks), max(bench.cfg.memory_ks)
    if scen != f"start-up K={hi}":
        return []
    rows: list[Row] = []
    for name in bench.results[scen]:
        for pss, metric in (("pss_mb", "kb_per_service"), ("pss_mb_warm", "kb_per_service_warm")):
            kb = kb_per_service(bench, name, pss)
            if kb is not None:
                rows.append((f"memory K={lo}->{hi}", name, metric, fmt(kb), "", ""))
    return rows


def kb_per_service(bench: Bench, runner: str, pss: str = "pss_mb") -> float | None:
    """KB of PSS a runner adds per service, from the two memory fleet sizes."""
    lo, hi = min(bench.cfg.memory_ks), max(bench.cfg.memory_ks)
    small = bench.results.get(f"start-up K={lo}", {}).get(runner, Cell())
    big = bench.results.get(f"start-up K={hi}", {}).get(runner, Cell())
    a, b = summarise(small).get(pss), summarise(big).get(pss)
    return None if a is None or b is None else (b - a) * 1024 / (hi - lo)


def render_long(rows: list[Row]) -> str:
    """The console table: one line per (scenario, runner, metric)."""
    widths = [max(len(r[i]) for r in [HEAD, *rows]) for i in range(len(HEAD))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [HEAD, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_wide(bench: Bench, rows: list[Row]) -> str:
    """Markdown table: one row per (scenario, metric), one column per runner."""
    names = [RAW, *(r.name for r in bench.runners)]
    table: dict[tuple[str, str], dict[str, str]] = {}
    for scen, name, metric, value, x_raw, x_honcho in rows:
        ratios = ", ".join(
            [*([x_raw] if x_raw else []), *([f"{x_honcho} honcho"] if x_honcho else [])]
        )
        table.setdefault((scen, metric), {})[name] = value + (f" ({ratios})" if ratios else "")
    out = ["| scenario | metric | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for (scen, metric), cells in table.items():
        out.append(f"| {scen} | {metric} | " + " | ".join(cells.get(n, "") for n in names) + " |")
    return "\n".join(out)


def failure_notes(bench: Bench) -> list[str]:
    """One line per distinct failure of a repeat, for the docs and the results file."""
    notes = []
    for scen in bench.scenario_order:
        for name, cell in bench.results[scen].items():
            for f in dict.fromkeys(cell.failures):
                notes.append(f"{scen} / {name}: {f[:200]}")
    return notes
