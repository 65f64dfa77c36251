"""The multiplexer: the only writer to orchestra's stdout.

Every child's output arrives here as raw chunks, is split into lines per (service, stream),
prefixed, and printed. Work is done per chunk with bytes operations, never per line in Python,
and everything fed during one event-loop iteration leaves in one batch of `os.write` calls, so
a firehose of many services prints at close to the speed of a plain pipe.

Under the event loop (`loop` given), the writes are made by one writer thread
(`output/writer.py`), so a slow reader of our stdout never blocks the loop: signals, timers and
checks go on. Once the backlog is over its bound, the services' pipes (registered with
`add_reader`) are no longer read (`output/backpressure.py`, the base class that pauses them),
so the children block on their own writes: nothing fed is ever lost, and memory stays
bounded. Without a loop (tests, benchmarks) `flush` writes at once. A reader that goes away
(EPIPE, as when a pager quits) marks the output broken: from then on output is discarded, the
owner is told once through `on_broken`, and line listeners keep working. `--output json` is
formatted by `output/json_events.py`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence

from orchestra.output.backpressure import STDOUT, BackPressure
from orchestra.output.lines import LineSplitter, Run
from orchestra.output.options import OutputOptions
from orchestra.output.style import SYSTEM, Prefixes
from orchestra.output.terminal import needs_neutralising, neutralise
from orchestra.output.writer import QueuedWriter, to_fd, write_all

LineListener = Callable[[str], None]

FLUSH_AT = 4 * 1024 * 1024
"""Write at once when this many bytes are buffered, so memory stays bounded between flushes;
also the writer's bound: above it, the services' pipes are no longer read."""


class Multiplexer(BackPressure):
    """Formats lines of every service and writes them, in batches, to one file descriptor.

    `schedule` (e.g. `loop.call_soon`) is called with `self.flush` when data is first buffered
    after a flush, so one event-loop iteration costs one write; without it the caller flushes.
    `loop`: write from a thread fed by that loop (and schedule flushes on it), never blocking it.
    """

    def __init__(
        self,
        fd: int,
        names: Sequence[str],
        options: OutputOptions,
        *,
        clock: Callable[[], float] = time.time,
        schedule: Callable[[Callable[[], None]], object] | None = None,
        on_broken: Callable[[], None] = lambda: None,
        record: Callable[[str, str, list[Run]], None] | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._fd = fd
        self._options = options
        self._clock = clock
        self._schedule = schedule
        self._on_broken = on_broken
        self._record = record   # every service's runs of lines, e.g. for `orchestra logs`
        self._prefixes = Prefixes(options, names)
        self._neutral = options.terminal and not options.raw
        self._splitters: dict[tuple[str, str], LineSplitter] = {}
        self._listeners: dict[str, list[LineListener]] = {}
        self._out: list[bytes] = []
        self._size = 0
        self._scheduled = False
        self._broken = False
        self.error: OSError | None = None      # why the output broke, if a write failed
        super().__init__()   # the pipes to pause while the output is backlogged
        if loop is not None:
            self._schedule = schedule or loop.call_soon
            self._writer = QueuedWriter(loop, to_fd(fd), name="orchestra-output",
                                        bound=FLUSH_AT,
                                        on_pressure=self._stdout_pressure,
                                        on_error=self._on_write_error)

    @property
    def broken(self) -> bool:
        """True once a write failed; output is discarded from then on."""
        return self._broken

    @property
    def write_error(self) -> str | None:
        """Why output broke, for the user, when it was not a reader going away (which is
        no news to whoever closed it): e.g. "No space left on device"; else None."""
        exc = self.error
        if exc is None or isinstance(exc, BrokenPipeError):
            return None
        return exc.strerror or str(exc)

    def add_names(self, names: Iterable[str]) -> None:
        """Widen the name padding, e.g. when replicas are scaled up during the run."""
        self._prefixes.add_names(names)

    def feed(self, name: str, stream: str, data: bytes) -> None:
        """Take a raw chunk read from a child's pipe; it may end in the middle of a line."""
        key = (name, stream)
        splitter = self._splitters.get(key)
        if splitter is None:
            splitter = self._splitters[key] = LineSplitter(self._options.max_line)
        runs = splitter.feed(data)
        if runs:
            self._emit(name, stream, runs)

    def close_stream(self, name: str, stream: str) -> None:
        """End of a pipe: print its last partial line, which has no newline, as a line."""
        splitter = self._splitters.pop((name, stream), None)
        if splitter is not None:
            runs = splitter.finish()
            if runs:
                self._emit(name, stream, runs)

    def system(
        self,
        text: str,
        *,
        service: str | None = None,
        event: str | None = None,
        json_only: bool = False,
        **fields: object,
    ) -> None:
        """Print orchestra's own message as a line of the pseudo-service `system`.

        `service`, `event` and `fields` appear only in JSON output (the text is expected to
        mention them already); the core keys of the JSON object win over same-named fields.
        `json_only` events are left out of text output.
        """
        if self._broken:
            return
        now = self._clock()
        if self._options.json:
            from orchestra.output.json_events import system_event  # only for --output json

            self._buffer(system_event(now, service or SYSTEM, event, text, fields))
            return
        if json_only:  # a lifecycle step too small to show a person (e.g. "starting")
            return
        run = Run(text.replace("\r\n", "\n").encode("utf-8", "replace"), False)
        self._buffer_text(SYSTEM, now, [run])

    def add_line_listener(self, name: str, callback: LineListener) -> Callable[[], None]:
        """Call `callback` with each decoded line of `name` (both streams); returns unsubscribe.

        A line cut at `max_line` reaches the listener piece by piece. Only services with
        listeners pay for decoding line by line.
        """
        listeners = self._listeners.setdefault(name, [])
        listeners.append(callback)

        def unsubscribe() -> None:
            current = self._listeners.get(name)
            if current is not None and callback in current:
                current.remove(callback)
                if not current:
                    del self._listeners[name]

        return unsubscribe

    def flush(self) -> None:
        """Write everything buffered now: hand it to the writer thread (never blocks), or,
        without one, write it at once, blocking until the reader has taken it."""
        self._scheduled = False
        if not self._out:
            return
        data = b"".join(self._out)
        self._out.clear()
        self._size = 0
        if self._broken:
            return
        if self._writer is not None:
            self._writer.put(data)
            return
        try:
            write_all(self._fd, data)
        except OSError as exc:
            self._on_write_error(exc)

    async def written(self) -> None:
        """Wait until everything buffered so far is written (e.g. before another program
        writes to the same terminal)."""
        self.flush()
        if self._writer is not None:
            await self._writer.written()

    def close(self) -> None:
        """The end of the run: write everything, blocking until the reader has taken it."""
        self.flush()
        if self._writer is not None:
            self._writer.close()
            if self._writer.error is not None and not self._broken:
                self._on_write_error(self._writer.error)

    def replay(self, name: str, lines: Iterable[str]) -> None:
        """Show lines kept earlier (a quiet service's last lines) as that service's output."""
        if self._broken:
            return
        runs = [Run(line.encode("utf-8", "replace"), False) for line in lines]
        if self._options.json:
            self._buffer_json(name, "stdout", runs)
        else:
            self._buffer_text(name, self._clock(), runs)

    def raw(self, text: str) -> None:
        """A bare line for a log reader, e.g. a CI annotation (`::group::web`); not in JSON."""
        if not self._broken and not self._options.json:
            self._buffer(text.encode("utf-8", "replace") + b"\n")

    def _emit(self, name: str, stream: str, runs: list[Run]) -> None:
        if self._record is not None:
            self._record(name, stream, runs)
        if not self._broken and name not in self._options.quiet:
            if self._options.json:
                self._buffer_json(name, stream, runs)
            else:
                self._buffer_text(name, self._clock(), runs)
        listeners = self._listeners.get(name)
        if listeners:
            for run in runs:
                for line in run.text.decode("utf-8", "replace").split("\n"):
                    for callback in tuple(listeners):
                        callback(line)

    def _buffer_text(self, name: str, now: float, runs: list[Run]) -> None:
        prefix = self._prefixes.get(name, now)
        glue = b"\n" + prefix
        out = self._out
        neutral = self._neutral
        for run in runs:
            text = run.text
            ascii_only = text.isascii()
            if not ascii_only:
                text = text.decode("utf-8", "replace").encode()
            if neutral and needs_neutralising(text, ascii_only):
                text = neutralise(text)   # on a terminal: ^M, ^[ instead of obeying them
            out.append(self._prefixes.get(name, now, True) if run.continued else prefix)
            out.append(text.replace(b"\n", glue) if prefix else text)
            out.append(b"\n")
            self._size += len(text)
        self._after_buffer()

    def _buffer_json(self, name: str, stream: str, runs: list[Run]) -> None:
        from orchestra.output.json_events import service_lines  # only for --output json

        self._buffer(service_lines(self._clock(), name, stream, runs))

    def _buffer(self, data: bytes) -> None:
        self._out.append(data)
        self._size += len(data)
        self._after_buffer()

    def _after_buffer(self) -> None:
        if self._size >= FLUSH_AT:
            self.flush()
        elif self._schedule is not None and not self._scheduled:
            self._scheduled = True
            self._schedule(self.flush)

    def _on_write_error(self, error: OSError) -> None:
        self.error = error
        if not self._broken:
            self._break()

    def reader_gone(self) -> None:
        """The reader of our stdout pipe went away before anything failed to reach it."""
        if not self._broken:
            self._break()

    def _break(self) -> None:
        self._broken = True
        self._out.clear()
        self._size = 0
        self.hold_readers(False, STDOUT)   # output is discarded now: it holds no one
        self._on_broken()
