"""How output is presented, decided once by the CLI and frozen for the run.

The CLI owns every decision that depends on the environment (is stdout a terminal, which
variables are set); the multiplexer only reads this value, so its behaviour is testable
without a terminal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OutputOptions:
    """Presentation switches; each field maps to one CLI flag."""

    prefix: bool = True
    """`--no-prefix` turns this off: lines are printed bare, without name or time."""
    timestamps: bool = True
    """`--no-timestamps` drops the leading `HH:MM:SS `."""
    color: bool = False
    """Colour the prefix; see `color_wanted` for how the CLI decides."""
    json: bool = False
    """`--output json`: one JSON object a line; the other presentation switches are ignored."""
    quiet: frozenset[str] = frozenset()
    """`-q/--quiet`: services whose own output is hidden; their lifecycle messages still show."""
    max_line: int = 4 * 1024 * 1024
    """`--max-line`: longer lines are cut into pieces of at most this many bytes."""
    terminal: bool = False
    """stdout is a terminal (decided again at each run): control characters in the lines are
    shown (`^M`, `^[`), not obeyed, so no service can move the cursor over another's lines;
    see `output/terminal.py`."""
    raw: bool = False
    """`--raw`: pass the services' bytes to a terminal as they are, escapes and all."""

    def __post_init__(self) -> None:
        if self.max_line < 1:
            raise ValueError(f"max_line must be at least 1 byte, got {self.max_line}")


def color_wanted(stream_isatty: bool, environ: Mapping[str, str], no_color_flag: bool) -> bool:
    """Decide whether to colour, following https://no-color.org and the FORCE_COLOR convention.

    The flag always wins (a user who typed `--no-color` means it). FORCE_COLOR (non-empty and not
    "0") beats NO_COLOR, because forcing is the more specific request, typically made by a CI
    configuration that knows its log viewer renders ANSI. Otherwise colour needs a terminal and
    an unset or empty NO_COLOR.
    """
    if no_color_flag:
        return False
    force = environ.get("FORCE_COLOR", "")
    if force and force != "0":
        return True
    if environ.get("NO_COLOR", ""):
        return False
    return stream_isatty
