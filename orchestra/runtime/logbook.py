"""The recent output of every instance, kept in memory for `orchestra logs`.

A ring per instance, bounded both in lines and in bytes (a service printing 100 MB lines must
not make orchestra hold gigabytes). The multiplexer hands over runs of complete lines as bytes,
so keeping them costs a tuple and an append per run; lines are split and decoded only when
someone reads them or follows that instance.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence

from orchestra.output.lines import Run

MAX_LINES = 1000
MAX_BYTES = 1024 * 1024

Line = dict[str, object]
Follower = Callable[[Line], None]


class _Ring:
    __slots__ = ("bytes", "entries", "lines")

    def __init__(self) -> None:
        self.entries: deque[tuple[float, str, bytes, bool]] = deque()
        self.lines = 0
        self.bytes = 0


class Logbook:
    def __init__(self, names: Iterable[str], *, max_lines: int = MAX_LINES,
                 max_bytes: int = MAX_BYTES, clock: Callable[[], float] = time.time) -> None:
        self._rings = {name: _Ring() for name in names}
        self._max_lines = max_lines
        self._max_bytes = max_bytes
        self._clock = clock
        self._followers: dict[str, list[Follower]] = {}

    def record(self, name: str, stream: str, runs: Sequence[Run]) -> None:
        ring = self._rings.get(name)
        if ring is None:
            return
        now = self._clock()
        for run in runs:
            ring.entries.append((now, stream, run.text, run.continued))
            ring.lines += run.text.count(b"\n") + 1
            ring.bytes += len(run.text)
        while ring.entries and (ring.lines > self._max_lines or ring.bytes > self._max_bytes):
            if len(ring.entries) == 1:   # one run over the bound: keep its last lines
                self._trim_last(ring)
                break
            _, _, text, _ = ring.entries.popleft()
            ring.lines -= text.count(b"\n") + 1
            ring.bytes -= len(text)
        followers = self._followers.get(name)
        if followers:
            for line in _lines(name, [(now, stream, r.text, r.continued) for r in runs]):
                for follower in tuple(followers):
                    follower(line)

    def _trim_last(self, ring: _Ring) -> None:
        when, stream, text, continued = ring.entries.pop()
        kept = text.split(b"\n")[-self._max_lines:]
        data = b"\n".join(kept)[-self._max_bytes:]
        ring.entries.append((when, stream, data, continued))
        ring.lines, ring.bytes = data.count(b"\n") + 1, len(data)

    def lines(self, names: Sequence[str], tail: int | None = None) -> list[Line]:
        """The kept lines of these instances, oldest first, each instance's last `tail`."""
        result: list[Line] = []
        for name in names:
            ring = self._rings.get(name)
            if ring is None:
                continue
            found = _lines(name, ring.entries)
            if tail is not None:
                found = found[-tail:] if tail else []   # a tail longer than what is kept: all
            result.extend(found)
        result.sort(key=_when)   # stable: each instance's order is kept
        return result

    def follow(self, names: Sequence[str], follower: Follower) -> Callable[[], None]:
        for name in names:
            self._followers.setdefault(name, []).append(follower)

        def unsubscribe() -> None:
            for name in names:
                current = self._followers.get(name, [])
                if follower in current:
                    current.remove(follower)
        return unsubscribe


def _when(line: Line) -> float:
    when = line["ts"]
    return when if isinstance(when, float) else 0.0


def _lines(name: str, entries: Iterable[tuple[float, str, bytes, bool]]) -> list[Line]:
    found: list[Line] = []
    for when, stream, text, continued in entries:
        for index, part in enumerate(text.decode("utf-8", "replace").split("\n")):
            line: Line = {"ts": when, "service": name, "stream": stream, "text": part}
            if continued and index == 0:
                line["continued"] = True
            found.append(line)
    return found
