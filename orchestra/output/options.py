"""How output is presented, decided once by the CLI and frozen for the run.

The CLI owns every decision that depends on the environment (is stdout a terminal, which
variables are set); the multiplexer only reads this value, so its behaviour is testable
without a terminal.

A NamedTuple (change one with `_replace`), not a frozen dataclass: it is made once a run, on
the way to every run's first line, where a dataclass costs ~0.8 ms to create (see
runtime/events.py).
"""

# Annotations are evaluated here, not kept as strings: see orchestra/records.py.

from collections.abc import Mapping
from typing import NamedTuple


class _Switches(NamedTuple):
    # `--no-prefix` turns this off: lines are printed bare, without name or time.
    prefix: bool
    # `--no-timestamps` drops the leading `HH:MM:SS `.
    timestamps: bool
    # Colour the prefix; see `color_wanted` for how the CLI decides.
    color: bool
    # `--output json`: one JSON object a line; the other presentation switches are ignored.
    json: bool
    # `-q/--quiet`: services whose own output is hidden; their lifecycle messages still show.
    quiet: frozenset[str]
    # `--max-line`: longer lines are cut into pieces of at most this many bytes.
    max_line: int
    # stdout is a terminal (decided again at each run): control characters in the lines are
    # shown (`^M`, `^[`), not obeyed, so no service can move the cursor over another's
    # lines; see `output/terminal.py`.
    terminal: bool
    # `--raw`: pass the services' bytes to a terminal as they are, escapes and all.
    raw: bool


class OutputOptions(_Switches):
    """Presentation switches; each field maps to one CLI flag. This subclass checks
    `max_line` as it is made (a NamedTuple's own constructor cannot)."""

    __slots__ = ()

    def __new__(cls, prefix: bool = True, timestamps: bool = True, color: bool = False,
                json: bool = False, quiet: frozenset[str] = frozenset(),
                max_line: int = 4 * 1024 * 1024, terminal: bool = False,
                raw: bool = False) -> "OutputOptions":
        if max_line < 1:
            raise ValueError(f"max_line must be at least 1 byte, got {max_line}")
        return super().__new__(cls, prefix, timestamps, color, json, quiet, max_line,
                               terminal, raw)


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
