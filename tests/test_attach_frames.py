"""The frames of an attach connection (docs/CONTROL.md): whole frames from chunks of any size,
and requests that name no single instance refused."""

from __future__ import annotations

import pytest

from orchestra.control import frames
from orchestra.control.protocol import RequestError, parse_request


def test_frames_come_whole_out_of_any_chunking() -> None:
    stream = (frames.frame(frames.DATA, b"hello\r") + frames.resize(40, 120)
              + frames.frame(b"z", b"unknown") + frames.frame(frames.END, "bye ✓".encode()))
    for size in (1, 2, 5, 7, len(stream)):
        decoder = frames.Decoder()
        got = [f for i in range(0, len(stream), size) for f in decoder.feed(stream[i:i + size])]
        assert got == [(b"d", b"hello\r"), (b"r", b"\x00\x28\x00\x78"), (b"z", b"unknown"),
                       (b"e", "bye ✓".encode())], size
    assert frames.size_of(frames.resize(40, 120)[5:]) == (40, 120)
    assert frames.size_of(b"\x00\x00\x00\x50") is None   # zero rows: no usable size
    assert frames.size_of(b"\x01") is None


def test_a_frame_too_long_is_an_error_not_a_wait() -> None:
    with pytest.raises(frames.FrameError):
        frames.Decoder().feed(frames.HEADER.pack(frames.DATA, frames.MAX_PAYLOAD + 1))


@pytest.mark.parametrize("line", [b'{"command": "attach"}',
                                  b'{"command": "attach", "services": ["a", "b"]}'])
def test_attach_names_exactly_one_service(line: bytes) -> None:
    with pytest.raises(RequestError, match="attach: name one service or instance"):
        parse_request(line)


def test_an_attach_request_parses() -> None:
    assert parse_request(b'{"command": "attach", "services": ["web.1"]}').services == ("web.1",)
