"""Unit tests of the output multiplexer: real file descriptors, a fake clock, exact bytes."""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator

import pytest

from orchestra.output.lines import cut_point
from orchestra.output.mux import FLUSH_AT, Multiplexer
from orchestra.output.options import OutputOptions, color_wanted
from orchestra.output.style import PALETTE, RESET, SYSTEM_STYLE, colour_for

T0 = 1_700_000_000.25


class FakeClock:
    """A settable clock; the multiplexer only ever calls it."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def stamp(now: float = T0) -> str:
    return time.strftime("%H:%M:%S", time.localtime(int(now)))


class Sink:
    """A temporary file used as the multiplexer's stdout."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def read(self) -> bytes:
        return os.pread(self.fd, 1 << 30, 0)


@pytest.fixture
def sink() -> Iterator[Sink]:
    with tempfile.TemporaryFile() as file:
        yield Sink(file.fileno())


def make(
    sink: Sink, names: tuple[str, ...] = ("web", "worker"), **options: object
) -> tuple[Multiplexer, FakeClock]:
    clock = FakeClock()
    mux = Multiplexer(sink.fd, names, OutputOptions(**options), clock=clock)  # type: ignore[arg-type]
    return mux, clock


def test_lines_are_prefixed_with_time_and_padded_name(sink: Sink) -> None:
    mux, _ = make(sink, ("web", "worker.1"))
    mux.feed("web", "stdout", b"hello\nworld\n")
    mux.feed("worker.1", "stderr", b"oops\n")
    mux.flush()
    assert sink.read().decode() == (
        f"{stamp()} web      | hello\n{stamp()} web      | world\n{stamp()} worker.1 | oops\n"
    )


def test_padding_covers_system_and_later_names(sink: Sink) -> None:
    mux, _ = make(sink, ("db",))
    mux.feed("db", "stdout", b"a\n")
    mux.add_names(["a-long-name"])
    mux.feed("db", "stdout", b"b\n")
    mux.flush()
    assert sink.read().decode() == f"{stamp()} db     | a\n{stamp()} db          | b\n"


def test_a_partial_line_waits_for_its_newline_and_is_printed_at_eof(sink: Sink) -> None:
    mux, _ = make(sink, timestamps=False)
    mux.feed("web", "stdout", b"par")
    mux.feed("web", "stdout", b"tial")
    mux.flush()
    assert sink.read() == b""
    mux.feed("web", "stdout", b" line\nlast")
    mux.close_stream("web", "stdout")
    mux.close_stream("web", "stdout")
    mux.flush()
    assert sink.read() == b"web    | partial line\nweb    | last\n"


def test_streams_of_one_service_keep_their_own_partial_lines(sink: Sink) -> None:
    mux, _ = make(sink, timestamps=False)
    mux.feed("web", "stdout", b"out-")
    mux.feed("web", "stderr", b"err\n")
    mux.feed("web", "stdout", b"line\n")
    mux.flush()
    assert sink.read() == b"web    | err\nweb    | out-line\n"


def test_the_timestamp_follows_the_clock(sink: Sink) -> None:
    mux, clock = make(sink, names=("web",))
    mux.feed("web", "stdout", b"a\n")
    clock.now = T0 + 61
    mux.feed("web", "stdout", b"b\n")
    mux.flush()
    assert sink.read().decode() == f"{stamp()} web    | a\n{stamp(T0 + 61)} web    | b\n"


def test_no_prefix_prints_bare_lines(sink: Sink) -> None:
    mux, _ = make(sink, prefix=False, color=True)
    mux.feed("web", "stdout", b"a\nb\n")
    mux.system("web: started")
    mux.flush()
    assert sink.read() == b"a\nb\nweb: started\n"


def test_colour_is_on_the_prefix_only(sink: Sink) -> None:
    mux, _ = make(sink, color=True, timestamps=False)
    mux.feed("web", "stdout", b"a\n")
    mux.system("web: started pid=1")
    mux.flush()
    web = colour_for("web")
    assert sink.read().decode() == (
        f"{web}web    |{RESET} a\n{SYSTEM_STYLE}system |{RESET} web: started pid=1\n"
    )


def test_colours_are_stable_and_system_has_its_own() -> None:
    assert colour_for("web") == colour_for("web")
    assert colour_for("web") in PALETTE
    assert SYSTEM_STYLE not in PALETTE
    assert len({colour_for(f"svc{i}") for i in range(40)}) > 4


def test_system_messages_come_from_the_system_pseudo_service(sink: Sink) -> None:
    mux, _ = make(sink)
    mux.system("web: started pid=123", service="web", event="started", pid=123)
    mux.flush()
    assert sink.read().decode() == f"{stamp()} system | web: started pid=123\n"


def test_json_lines(sink: Sink) -> None:
    mux, _ = make(sink, json=True, color=True)
    mux.feed("web", "stderr", b'say "hi" \xc3\xa9\n\tx\n')
    mux.system("web: exited rc=1", service="web", event="exited", rc=1)
    mux.system("bye")
    mux.flush()
    records = [json.loads(line) for line in sink.read().decode().splitlines()]
    assert records == [
        {"ts": T0, "service": "web", "stream": "stderr", "text": 'say "hi" é'},
        {"ts": T0, "service": "web", "stream": "stderr", "text": "\tx"},
        {"ts": T0, "service": "web", "stream": "system", "event": "exited",
         "text": "web: exited rc=1", "rc": 1},
        {"ts": T0, "service": "system", "stream": "system", "event": None, "text": "bye"},
    ]  # fmt: skip
    assert "é" in sink.read().decode()


def test_long_lines_are_cut_and_marked_as_continued(sink: Sink) -> None:
    mux, _ = make(sink, timestamps=False, max_line=4)
    mux.feed("web", "stdout", b"ab\nabcdefghij\nxy\n")
    mux.flush()
    assert sink.read() == (b"web    | ab\nweb    | abcd\nweb    + efgh\nweb    + ij\nweb    | xy\n")


def test_a_growing_partial_line_is_emitted_before_its_newline(sink: Sink) -> None:
    mux, _ = make(sink, timestamps=False, max_line=4)
    mux.feed("web", "stdout", b"abc")
    mux.feed("web", "stdout", b"defghi")
    mux.flush()
    assert sink.read() == b"web    | abcd\nweb    + efgh\n"
    mux.feed("web", "stdout", b"jk\nz\n")
    mux.flush()
    assert sink.read() == b"web    | abcd\nweb    + efgh\nweb    + ijk\nweb    | z\n"


def test_json_pieces_carry_continued(sink: Sink) -> None:
    mux, _ = make(sink, json=True, max_line=3)
    mux.feed("web", "stdout", b"abcdefg\n")
    mux.flush()
    records = [json.loads(line) for line in sink.read().splitlines()]
    assert [(r["text"], r.get("continued", False)) for r in records] == [
        ("abc", False),
        ("def", True),
        ("g", True),
    ]


def test_cuts_never_tear_a_utf8_character() -> None:
    text = "aé€😀".encode() * 3
    pieces, start = [], 0
    while len(text) - start > 5:
        end = cut_point(text, start, 5)
        pieces.append(text[start:end])
        start = end
    pieces.append(text[start:])
    assert all(len(piece) <= 5 for piece in pieces)
    assert "".join(piece.decode() for piece in pieces) == text.decode()


def test_invalid_utf8_is_replaced_and_crlf_loses_its_cr(sink: Sink) -> None:
    mux, _ = make(sink, prefix=False)
    mux.feed("web", "stdout", b"bad \xff\xfe end\r\nok\r\nlone\r cr\r")
    mux.feed("web", "stdout", b"\nsplit \xe2\x82")
    mux.feed("web", "stdout", b"\xac\n")
    mux.close_stream("web", "stdout")
    mux.flush()
    assert sink.read().decode() == "bad \ufffd\ufffd end\nok\nlone\r cr\nsplit €\n"


def test_quiet_hides_output_but_not_lifecycle_or_listeners(sink: Sink) -> None:
    mux, _ = make(sink, timestamps=False, quiet=frozenset({"web"}))
    seen: list[str] = []
    mux.add_line_listener("web", seen.append)
    mux.feed("web", "stdout", b"hidden\n")
    mux.feed("worker", "stdout", b"shown\n")
    mux.system("web: ready")
    mux.flush()
    assert sink.read() == b"worker | shown\nsystem | web: ready\n"
    assert seen == ["hidden"]


def test_line_listeners_get_decoded_lines_until_unsubscribed(sink: Sink) -> None:
    mux, _ = make(sink)
    seen: list[str] = []
    unsubscribe = mux.add_line_listener("web", seen.append)
    mux.feed("web", "stdout", b"one\r\ntw")
    mux.feed("web", "stderr", b"\xffe\n")
    mux.feed("worker", "stdout", b"other\n")
    mux.feed("web", "stdout", b"o\n")
    unsubscribe()
    unsubscribe()
    mux.feed("web", "stdout", b"three\n")
    assert seen == ["one", "\ufffde", "two"]


def test_a_listener_may_unsubscribe_itself(sink: Sink) -> None:
    mux, _ = make(sink)
    seen: list[str] = []

    def once(line: str) -> None:
        seen.append(line)
        unsubscribe()

    unsubscribe = mux.add_line_listener("web", once)
    mux.feed("web", "stdout", b"a\nb\n")
    assert seen == ["a"]


def test_schedule_is_asked_once_per_batch(sink: Sink) -> None:
    calls: list[object] = []
    mux = Multiplexer(sink.fd, ["web"], OutputOptions(), schedule=calls.append)
    mux.feed("web", "stdout", b"partial")
    assert calls == []
    mux.feed("web", "stdout", b"\na\n")
    mux.system("x")
    assert calls == [mux.flush]
    assert sink.read() == b""
    mux.flush()
    mux.feed("web", "stdout", b"b\n")
    assert len(calls) == 2


def test_a_large_backlog_is_written_without_waiting_for_flush(sink: Sink) -> None:
    mux, _ = make(sink, prefix=False)
    mux.feed("web", "stdout", b"x" * FLUSH_AT + b"\n")
    assert len(sink.read()) == FLUSH_AT + 1


def test_a_closed_reader_marks_output_broken_once() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    broken: list[bool] = []
    mux = Multiplexer(write_end, ["web"], OutputOptions(), on_broken=lambda: broken.append(True))
    seen: list[str] = []
    mux.add_line_listener("web", seen.append)
    try:
        mux.feed("web", "stdout", b"a\n")
        states = [mux.broken]
        mux.flush()
        states.append(mux.broken)
        mux.feed("web", "stdout", b"b\n")
        mux.system("still quiet")
        mux.close_stream("web", "stdout")
        mux.flush()
    finally:
        os.close(write_end)
    assert states == [False, True]
    assert broken == [True]
    assert seen == ["a", "b"]


def test_a_closed_fd_marks_output_broken() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    os.close(write_end)
    mux = Multiplexer(write_end, ["web"], OutputOptions())
    mux.system("hello")
    mux.flush()
    assert mux.broken


def test_a_non_blocking_fd_waits_for_the_reader() -> None:
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    received = bytearray()

    def drain() -> None:
        while chunk := os.read(read_end, 1 << 16):
            received.extend(chunk)
            time.sleep(0.001)

    reader = threading.Thread(target=drain)
    reader.start()
    mux = Multiplexer(write_end, ["web"], OutputOptions(prefix=False))
    payload = b"y" * 999 + b"\n"
    mux.feed("web", "stdout", payload * 1024)
    mux.flush()
    os.close(write_end)
    reader.join(timeout=10)
    os.close(read_end)
    assert not mux.broken
    assert bytes(received) == payload * 1024


@pytest.mark.parametrize(
    ("isatty", "environ", "flag", "wanted"),
    [
        (True, {}, False, True),
        (False, {}, False, False),
        (True, {"NO_COLOR": "1"}, False, False),
        (True, {"NO_COLOR": ""}, False, True),
        (False, {"FORCE_COLOR": "1"}, False, True),
        (False, {"FORCE_COLOR": "0"}, False, False),
        (False, {"FORCE_COLOR": ""}, False, False),
        (True, {"FORCE_COLOR": "1", "NO_COLOR": "1"}, False, True),
        (True, {"FORCE_COLOR": "1"}, True, False),
    ],
)
def test_color_wanted(isatty: bool, environ: dict[str, str], flag: bool, wanted: bool) -> None:
    assert color_wanted(isatty, environ, flag) is wanted


def test_max_line_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_line"):
        OutputOptions(max_line=0)


# ---------------------------------------------------------------------------- the writer thread


def test_under_a_loop_the_writer_thread_writes_everything_in_order(sink: Sink) -> None:
    import asyncio

    async def main() -> None:
        mux = Multiplexer(sink.fd, ["web"], OutputOptions(prefix=False),
                          loop=asyncio.get_running_loop())
        for n in range(2000):
            mux.feed("web", "stdout", b"%06d\n" % n)
            if n % 100 == 0:
                await asyncio.sleep(0)   # let scheduled flushes hand batches over
        await mux.written()
        assert sink.read() == b"".join(b"%06d\n" % n for n in range(2000))
        mux.feed("web", "stdout", b"last\n")
        mux.close()
        assert sink.read().endswith(b"001999\nlast\n")

    asyncio.run(main())


def test_under_a_loop_a_closed_reader_breaks_the_output_on_the_loop() -> None:
    import asyncio

    read_end, write_end = os.pipe()
    os.close(read_end)

    async def main() -> list[str]:
        loop = asyncio.get_running_loop()
        told: list[str] = []
        broken = loop.create_future()

        def on_broken() -> None:
            told.append("loop" if asyncio.get_running_loop() is loop else "elsewhere")
            broken.set_result(None)

        mux = Multiplexer(write_end, ["web"], OutputOptions(), on_broken=on_broken, loop=loop)
        mux.feed("web", "stdout", b"a\n")
        await asyncio.wait_for(broken, 5)
        mux.feed("web", "stdout", b"b\n")   # discarded
        mux.close()
        assert mux.broken and isinstance(mux.error, BrokenPipeError)
        return told

    try:
        assert asyncio.run(main()) == ["loop"]
    finally:
        os.close(write_end)


def test_a_write_error_at_the_end_is_still_reported() -> None:
    """The last batch fails while closing: the output is marked broken all the same."""
    import asyncio

    read_end, write_end = os.pipe()
    os.close(read_end)
    broken: list[bool] = []

    async def main() -> None:
        mux = Multiplexer(write_end, ["web"], OutputOptions(),
                          on_broken=lambda: broken.append(True),
                          loop=asyncio.get_running_loop())
        mux.system("bye")
        mux.close()
        assert mux.broken

    try:
        asyncio.run(main())
    finally:
        os.close(write_end)
    assert broken == [True]
