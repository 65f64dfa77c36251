"""Property tests: whatever the chunking, every line of every service comes out whole, in order.

Random byte content (invalid UTF-8, `\\r`, escape bytes included) from several services is cut
into random chunks, interleaved and flushed at random points; the output is parsed back and,
per service, must equal the original lines: nothing lost, torn, merged or reordered, and the
last partial line appears after `close_stream`.
"""

from __future__ import annotations

import itertools
import json
import re
import tempfile
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestra.output.mux import Multiplexer
from orchestra.output.options import OutputOptions

NAMES = ("web", "worker.1", "db")
TEXT_LINE = re.compile(
    rb"(?:\x1b\[[0-9;]*m)*(?:\d\d:\d\d:\d\d )?"
    rb"(?P<name>\S+) +(?P<sep>[|+])(?:\x1b\[0m)? (?P<text>.*)",
    re.DOTALL,
)

line_bytes = st.binary(max_size=30).map(lambda b: b.replace(b"\n", b""))
ascii_lines = st.text("ab\r\x1b|+ é", max_size=30).map(lambda t: t.encode())


@dataclass
class Stream:
    name: str
    kind: str
    lines: list[bytes]
    terminated: bool

    def data(self) -> bytes:
        text = b"\n".join(self.lines)
        return text + b"\n" if self.terminated and self.lines else text

    def expected(self) -> list[str]:
        """What a reader should see: `\\r\\n` endings lose the `\\r`, bad bytes become U+FFFD."""
        lines = self.data().split(b"\n")
        partial = lines.pop()
        out = [line.removesuffix(b"\r") for line in lines] + ([partial] if partial else [])
        return [line.decode("utf-8", "replace") for line in out]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Stream], list[tuple[int, bytes] | None]]:
    """Streams of several services and a feed schedule: (stream index, chunk) or None = flush."""
    streams = [
        Stream(
            name,
            draw(st.sampled_from(["stdout", "stderr"])),
            draw(st.lists(st.one_of(line_bytes, ascii_lines), max_size=12)),
            draw(st.booleans()),
        )
        for name in draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True))
    ]
    pending: list[list[bytes]] = []
    for stream in streams:
        data = stream.data()
        cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=8)))
        bounds = [0, *cuts, len(data)]
        pending.append([data[a:b] for a, b in itertools.pairwise(bounds)])
    schedule: list[tuple[int, bytes] | None] = []
    while any(pending):
        index = draw(st.sampled_from([i for i, chunks in enumerate(pending) if chunks]))
        schedule.append((index, pending[index].pop(0)))
        if draw(st.booleans()):
            schedule.append(None)
    return streams, schedule


def parse_text(output: bytes) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {}
    assert output == b"" or output.endswith(b"\n")
    for raw in output.split(b"\n")[:-1]:
        match = TEXT_LINE.fullmatch(raw)
        assert match is not None, raw
        lines = seen.setdefault(match["name"].decode(), [])
        text = match["text"].decode()
        if match["sep"] == b"+":
            lines[-1] += text
        else:
            lines.append(text)
    return seen


def parse_json(output: bytes) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {}
    for raw in output.decode().split("\n")[:-1]:
        record = json.loads(raw)
        lines = seen.setdefault(record["service"], [])
        if record.get("continued"):
            lines[-1] += record["text"]
        else:
            lines.append(record["text"])
    return seen


@settings(max_examples=300, deadline=None)
@given(
    scenario=scenarios(),
    as_json=st.booleans(),
    color=st.booleans(),
    timestamps=st.booleans(),
    max_line=st.one_of(st.integers(4, 12), st.just(4 * 1024 * 1024)),
)
def test_every_line_arrives_whole_and_in_order(
    scenario: tuple[list[Stream], list[tuple[int, bytes] | None]],
    as_json: bool,
    color: bool,
    timestamps: bool,
    max_line: int,
) -> None:
    streams, schedule = scenario
    options = OutputOptions(json=as_json, color=color, timestamps=timestamps, max_line=max_line)
    with tempfile.TemporaryFile() as file:
        mux = Multiplexer(file.fileno(), NAMES, options, clock=lambda: 1_700_000_000.5)
        for step in schedule:
            if step is None:
                mux.flush()
            else:
                stream = streams[step[0]]
                mux.feed(stream.name, stream.kind, step[1])
        for stream in streams:
            mux.close_stream(stream.name, stream.kind)
        mux.flush()
        file.seek(0)
        output = file.read()
    seen = parse_json(output) if as_json else parse_text(output)
    expected = {stream.name: stream.expected() for stream in streams if stream.expected()}
    assert seen == expected
    if max_line < 1024 and not as_json:
        assert all(len(text) <= max_line for text in _texts(output))


def _texts(output: bytes) -> list[str]:
    """The text after each prefix; a piece of at most N bytes decodes to at most N characters."""
    texts = []
    for raw in output.split(b"\n")[:-1]:
        match = TEXT_LINE.fullmatch(raw)
        assert match is not None
        texts.append(match["text"].decode())
    return texts
