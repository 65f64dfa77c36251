"""Micro-benchmark of the output multiplexer against a raw pipe writer.

Feeds 200k lines of 60 bytes (8 services x 25k lines) in 64 KiB chunks, one chunk per service
per simulated event-loop iteration followed by one flush, into a pipe drained by `cat`.
Two baselines: plain `os.write` of the raw chunks, and of the bytes the multiplexer produces
in prefix+timestamp mode (the floor for printing that much); the last row hands the batches
to the writer thread, as `orchestra up` does. Run: `python bench/mux_micro.py`.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orchestra.output.mux import Multiplexer
from orchestra.output.options import OutputOptions

SERVICES = 8
LINES = 200_000
LINE_BYTES = 60
CHUNK = 64 * 1024
ROUNDS = 5


def service_chunks(index: int) -> list[bytes]:
    """25k lines of 60 bytes (newline included) for one service, cut every 64 KiB."""
    count = LINES // SERVICES
    body = b"".join(
        b"svc%d line %08d " % (index, n) + b"x" * (LINE_BYTES - 24) + b"\n" for n in range(count)
    )
    return [body[i : i + CHUNK] for i in range(0, len(body), CHUNK)]


def rounds(per_service: list[list[bytes]]) -> list[list[tuple[str, bytes]]]:
    """Interleave the services: one chunk of each per event-loop iteration."""
    longest = max(map(len, per_service))
    return [
        [(f"svc{s}", chunks[i]) for s, chunks in enumerate(per_service) if i < len(chunks)]
        for i in range(longest)
    ]


def timed(run: Callable[[int], None]) -> float:
    """Best wall time of ROUNDS runs writing into a pipe drained by `cat > /dev/null`."""
    best = float("inf")
    for _ in range(ROUNDS):
        with open(os.devnull, "wb") as sink:
            cat = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=sink)
        assert cat.stdin is not None
        start = time.perf_counter()
        run(cat.stdin.fileno())
        cat.stdin.close()
        cat.wait()
        best = min(best, time.perf_counter() - start)
    return best


def raw(batches: list[list[tuple[str, bytes]]]) -> Callable[[int], None]:
    def run(fd: int) -> None:
        for batch in batches:
            for _, chunk in batch:
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]

    return run


def formatted(batches: list[list[tuple[str, bytes]]], options: OutputOptions) -> bytes:
    """The exact output of the multiplexer, captured once in a temporary file."""
    with tempfile.TemporaryFile() as file:
        muxed(batches, options)(file.fileno())
        file.seek(0)
        return file.read()


def raw_bytes(data: bytes) -> Callable[[int], None]:
    return raw([[("", data[i : i + CHUNK]) for i in range(0, len(data), CHUNK)]])


def muxed(batches: list[list[tuple[str, bytes]]], options: OutputOptions,
          threaded: bool = False) -> Callable[[int], None]:
    """`threaded`: hand each batch to the writer thread, as `orchestra up` does."""
    names = [f"svc{s}" for s in range(SERVICES)]

    def run(fd: int) -> None:
        loop = asyncio.new_event_loop() if threaded else None
        mux = Multiplexer(fd, names, options, loop=loop)
        for batch in batches:
            for name, chunk in batch:
                mux.feed(name, "stdout", chunk)
            mux.flush()
        for name in names:
            mux.close_stream(name, "stdout")
        mux.close()
        if loop is not None:
            loop.close()

    return run


def main() -> None:
    batches = rounds([service_chunks(s) for s in range(SERVICES)])
    base = timed(raw(batches))
    print(f"raw pipe writer        {LINES / base / 1e6:6.2f} M lines/s  (1.00x)")
    same = timed(raw_bytes(formatted(batches, OutputOptions())))
    ratio = same / base
    print(f"raw, prefixed bytes    {LINES / same / 1e6:6.2f} M lines/s  ({ratio:.2f}x raw time)")
    modes = {
        "prefix+timestamps": OutputOptions(),
        "prefix+ts+colour": OutputOptions(color=True),
        "prefix+ts, terminal": OutputOptions(terminal=True),   # escapes shown, not obeyed
        "no prefix": OutputOptions(prefix=False),
        "json": OutputOptions(json=True),
    }
    for label, options in modes.items():
        took = timed(muxed(batches, options))
        print(f"{label:<22} {LINES / took / 1e6:6.2f} M lines/s  ({took / base:.2f}x raw time)")
    took = timed(muxed(batches, OutputOptions(), threaded=True))
    label = "prefix+ts, thread"
    print(f"{label:<22} {LINES / took / 1e6:6.2f} M lines/s  ({took / base:.2f}x raw time)")


if __name__ == "__main__":
    main()
