"""The results as rows and tables: the console table and the Markdown table of the docs."""

from __future__ import annotations

from bench.results import RATIO_METRICS, Cell, failure_word, fmt, summarise
from bench.runners import RAW
from bench.suite import Bench

# (scenario, runner, metric, value, x raw)
Row = tuple[str, str, str, str, str]


def table_rows(bench: Bench) -> list[Row]:
    """(scenario, runner, metric, value, x raw) rows, in run order."""
    rows = []
    for scen in bench.scenario_order:
        cells = bench.results[scen]
        raw = summarise(cells[RAW]) if RAW in cells else {}
        for name, cell in cells.items():
            summary = summarise(cell)
            if not summary:
                rows.append((scen, name, "-", failure_word(cell), ""))
                continue
            for metric in sorted(summary):
                v = summary[metric]
                ratio = ""
                if metric in RATIO_METRICS and name != RAW and raw.get(metric):
                    ratio = f"{v / raw[metric]:.2f}x"
                mark = "*" if cell.failures else ""
                rows.append((scen, name, metric, fmt(v) + mark, ratio))
        if scen.startswith("start-up K="):
            rows.extend(per_service_rows(bench, scen))
    return rows


def per_service_rows(bench: Bench, scen: str) -> list[Row]:
    """PSS added per service between the two memory fleet sizes."""
    lo, hi = min(bench.cfg.memory_ks), max(bench.cfg.memory_ks)
    if scen != f"start-up K={hi}" or f"start-up K={lo}" not in bench.results:
        return []
    rows = []
    for name, cell in bench.results[scen].items():
        a = summarise(bench.results[f"start-up K={lo}"].get(name, Cell())).get("pss_mb")
        b = summarise(cell).get("pss_mb")
        if a is not None and b is not None:
            rows.append(
                (
                    f"memory K={lo}->{hi}",
                    name,
                    "kb_per_service",
                    fmt((b - a) * 1024 / (hi - lo)),
                    "",
                )
            )
    return rows


def render_long(rows: list[Row]) -> str:
    head = ("scenario", "runner", "metric", "value", "x raw")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(5)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [head, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_wide(bench: Bench, rows: list[Row]) -> str:
    """Markdown table: one row per (scenario, metric), one column per runner."""
    names = [RAW, *(r.name for r in bench.runners)]
    table: dict[tuple[str, str], dict[str, str]] = {}
    for scen, name, metric, value, ratio in rows:
        table.setdefault((scen, metric), {})[name] = value + (f" ({ratio})" if ratio else "")
    out = ["| scenario | metric | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for (scen, metric), cells in table.items():
        out.append(f"| {scen} | {metric} | " + " | ".join(cells.get(n, "") for n in names) + " |")
    return "\n".join(out)


def failure_notes(bench: Bench) -> list[str]:
    notes = []
    for scen in bench.scenario_order:
        for name, cell in bench.results[scen].items():
            for f in dict.fromkeys(cell.failures):
                notes.append(f"{scen} / {name}: {f[:200]}")
    return notes
