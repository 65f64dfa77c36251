"""The last lines of each service, kept for when something fails.

`orchestra run --quiet-services` hides service output but shows each service's last lines when
the command fails or a service dies; on GitHub Actions a failing service's last lines are
grouped under its name. Keeping them costs a decode per line, so it is switched on only then.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from orchestra.output.mux import Multiplexer

TAIL_LINES = 50


class Tails:
    def __init__(self, mux: Multiplexer, names: Iterable[str], size: int = TAIL_LINES) -> None:
        self.mux = mux
        self._lines: dict[str, deque[str]] = {}
        for name in names:
            kept: deque[str] = deque(maxlen=size)
            self._lines[name] = kept
            mux.add_line_listener(name, kept.append)

    def lines(self, name: str) -> list[str]:
        return list(self._lines.get(name, ()))

    def show(self, names: Iterable[str]) -> None:
        """Replay the kept lines of these services, each under a header."""
        for name in names:
            kept = self.lines(name)
            if kept:
                heading = "last line" if len(kept) == 1 else f"last {len(kept)} lines"
                self.mux.system(f"{heading} of {name}:", service=name, event="tail")
                self.mux.replay(name, kept)
