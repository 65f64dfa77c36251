"""Prefix bytes for text output: `HH:MM:SS name | `, padded, optionally coloured.

The prefix is the only per-line cost of the text format, so it is built once per
(name, separator) and second and then reused as bytes; the multiplexer glues it between lines
with one `bytes.replace` per chunk.
"""

from __future__ import annotations

import functools
import time
import zlib
from collections.abc import Callable, Iterable

from orchestra.output.options import OutputOptions

SYSTEM = "system"
"""The pseudo-service that orchestra's own messages come from."""


@functools.cache
def _styles() -> tuple[tuple[str, ...], str, str]:
    """The palette, the system style and the reset, from colorama: imported only once colour
    is on (a terminal), since its package root also loads its Windows console support
    (ctypes, ~2 ms), which a run into a pipe or a file would pay for nothing."""
    from colorama.ansi import Fore, Style

    palette = (Fore.CYAN, Fore.YELLOW, Fore.GREEN, Fore.MAGENTA, Fore.BLUE, Fore.RED,
               Fore.LIGHTCYAN_EX, Fore.LIGHTYELLOW_EX, Fore.LIGHTGREEN_EX,
               Fore.LIGHTMAGENTA_EX, Fore.LIGHTBLUE_EX, Fore.LIGHTRED_EX)
    return palette, Style.BRIGHT + Fore.WHITE, Style.RESET_ALL


def __getattr__(name: str) -> object:
    """`PALETTE` (the service colours; white is left out so that no service looks like
    `system`), `SYSTEM_STYLE` and `RESET`, made on first use (`_styles`)."""
    names = ("PALETTE", "SYSTEM_STYLE", "RESET")
    if name in names:
        return _styles()[names.index(name)]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


LINE_SEP = "|"
"""Separates the prefix from a line, or from the first piece of a line cut at `max_line`."""
CONTINUED_SEP = "+"
"""Separates the prefix from every later piece of a cut line."""


def colour_for(name: str) -> str:
    """A colour that stays the same for a name across runs and machines.

    crc32 rather than `hash()`, because Python randomises string hashes per process and the
    colour of `web` must not change between two runs.
    """
    palette, system_style, _ = _styles()
    if name == SYSTEM:
        return system_style
    return palette[zlib.crc32(name.encode()) % len(palette)]


def clock_text(seconds: int) -> str:
    """Local wall-clock time as `HH:MM:SS`."""
    return time.strftime("%H:%M:%S", time.localtime(seconds))


class Prefixes:
    """Builds and caches the prefix bytes of every name for the current second."""

    __slots__ = ("_cache", "_options", "_second", "_stamp", "_to_text", "_width")

    def __init__(
        self,
        options: OutputOptions,
        names: Iterable[str],
        *,
        to_text: Callable[[int], str] = clock_text,
    ) -> None:
        self._options = options
        self._to_text = to_text
        self._width = len(SYSTEM)
        self._cache: dict[tuple[str, bool], bytes] = {}
        self._second: int | None = None
        self._stamp = ""
        self.add_names(names)

    def add_names(self, names: Iterable[str]) -> None:
        """Widen the padding so that every known name lines up; never narrows it."""
        width = max((len(name) for name in names), default=0)
        if width > self._width:
            self._width = width
            self._cache.clear()

    def get(self, name: str, now: float, continued: bool = False) -> bytes:
        """The prefix for a line of `name` printed at `now` (epoch seconds), space included."""
        if self._options.timestamps:
            second = int(now // 1)
            if second != self._second:
                self._second = second
                self._stamp = self._to_text(second)
                self._cache.clear()
        key = (name, continued)
        prefix = self._cache.get(key)
        if prefix is None:
            prefix = self._cache[key] = self._build(name, continued)
        return prefix

    def _build(self, name: str, continued: bool) -> bytes:
        options = self._options
        if not options.prefix:
            return b""
        sep = CONTINUED_SEP if continued else LINE_SEP
        text = f"{name:<{self._width}} {sep}"
        if options.timestamps:
            text = f"{self._stamp} {text}"
        if options.color:
            text = f"{colour_for(name)}{text}{_styles()[2]}"
        return f"{text} ".encode()
