"""The view's widgets: the table of instances and the log of the selected one.

Every cell is plain text (a state is a word, not a colour), so the view reads the same with
`NO_COLOR` and over a terminal that has none.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence

from textual.widgets import DataTable, Log

from orchestra.errors import printable
from orchestra.tui.source import Instance

COLUMNS = (("NAME", "name"), ("STATE", "state"), ("PID", "pid"), ("UP", "uptime"),
           ("RST", "restarts"), ("CPU", "cpu"), ("RSS", "rss"), ("READINESS", "readiness"))
#: The readiness reason is cut here, so that the table fits 80 columns.
REASON_WIDTH = 26
#: Lines kept for the selected instance (the stack keeps up to 1,000).
KEPT_LINES = 2000


def cells(instance: Instance) -> tuple[str, ...]:
    """The row of an instance, as text."""
    return (instance.name, instance.state, _or_dash(instance.pid),
            _duration(instance.uptime), str(instance.restarts),
            "-" if instance.cpu_percent is None else f"{instance.cpu_percent:.0f}%",
            "-" if instance.rss_bytes is None else f"{instance.rss_bytes / 1048576:.1f}M",
            _readiness(instance))


def _or_dash(value: object) -> str:
    return "-" if value is None else str(value)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m{seconds % 60:02.0f}s"
    return f"{seconds // 3600:.0f}h{seconds % 3600 // 60:02.0f}m"


def _readiness(instance: Instance) -> str:
    """As `orchestra ps` says it: `ready: REASON`, else the reason it is not (which names
    the exit code of an instance that has ended)."""
    text = printable(("ready: " if instance.ready else "") + instance.reason)
    if not text and instance.exit_code is not None:
        text = f"exited rc={instance.exit_code}"
    return text if len(text) <= REASON_WIDTH else text[:REASON_WIDTH - 1] + "…"


class InstanceTable(DataTable[str]):
    """One row per instance, updated in place so that the selection stays where it is."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__(cursor_type="row", id=id)
        self._names: list[str] = []

    def on_mount(self) -> None:
        for label, key in COLUMNS:
            self.add_column(label, key=key)

    @property
    def selected(self) -> str | None:
        if not self._names or not 0 <= self.cursor_row < len(self._names):
            return None
        return self._names[self.cursor_row]

    def cells_of(self, name: str) -> list[str]:
        """The row of instance `name` as shown."""
        return [str(cell) for cell in self.get_row(name)]

    @property
    def names(self) -> list[str]:
        return list(self._names)

    def show(self, instances: Sequence[Instance]) -> None:
        names = [instance.name for instance in instances]
        if names != self._names:
            chosen = self.selected
            self.clear()
            for instance in instances:
                self.add_row(*cells(instance), key=instance.name)
            self._names = names
            if chosen in names:
                self.move_cursor(row=names.index(chosen))
            return
        for instance in instances:
            for (_, key), value in zip(COLUMNS, cells(instance), strict=True):
                if self.get_cell(instance.name, key) != value:
                    # a longer value (an uptime past 9s, `stopping`) widens its column
                    self.update_cell(instance.name, key, value, update_width=True)


class LogPanel(Log):
    """The recent lines of one instance; a filter shows only the lines that contain it
    (case-insensitive), and follow keeps the newest line in view."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__(max_lines=KEPT_LINES, auto_scroll=True, id=id)
        # (what the service said, the line as shown): the filter looks at the former only
        self._kept: deque[tuple[str, str]] = deque(maxlen=KEPT_LINES)
        self.filter = ""
        self.instance: str | None = None

    def start(self, instance: str) -> None:
        """Show another instance's lines (none yet)."""
        self.instance = instance
        self._kept.clear()
        self.clear()
        self.border_title = self._title()

    def add(self, line: dict[str, object]) -> None:
        said, shown = printable(str(line.get("text", ""))), format_line(line)
        self._kept.append((said, shown))
        if self._matches(said):
            self.write_line(shown)

    def note(self, text: str) -> None:
        """orchestra's own word in the log (the stack ended, a connection failed)."""
        self.add({"text": f"-- {text} --"})

    def set_filter(self, text: str) -> None:
        self.filter = text
        self.clear()
        self.write_lines(self.shown())
        self.border_title = self._title()

    def toggle_follow(self) -> bool:
        self.auto_scroll = not self.auto_scroll
        if self.auto_scroll:
            self.scroll_end(animate=False)
        self.border_title = self._title()
        return self.auto_scroll

    def shown(self) -> list[str]:
        """The lines the panel shows now (after the filter)."""
        return [shown for said, shown in self._kept if self._matches(said)]

    def _matches(self, text: str) -> bool:
        """Whether the filter is in what the service said (not in the time before it)."""
        return not self.filter or self.filter.casefold() in text.casefold()

    def _title(self) -> str:
        parts = [f"log: {self.instance or '-'}"]
        if self.filter:
            parts.append(f"filter: {printable(self.filter)}")
        parts.append("follow" if self.auto_scroll else "paused")
        return " · ".join(parts)


def format_line(line: dict[str, object]) -> str:
    """`HH:MM:SS text`, `!` before the time for stderr; control characters made visible
    (`\\x1b`), so that no service can move the cursor or recolour the view."""
    when = line.get("ts")
    stamp = time.strftime("%H:%M:%S", time.localtime(when)) if isinstance(
        when, int | float) else "        "
    mark = "!" if line.get("stream") == "stderr" else " "
    return f"{mark}{stamp} {printable(str(line.get('text', '')))}"
