"""The frames of an `attach` connection, after its JSON request and reply (docs/CONTROL.md).

Each frame is 1 byte of type, 4 bytes of payload length (big-endian), then the payload:

- `d` data: keystrokes (client → stack) or the terminal's output (stack → client), raw bytes;
- `r` resize: 4 bytes, rows then columns, each a big-endian 16-bit number (client → stack);
- `e` end: why the stack ends the attach, UTF-8 text (stack → client), the last frame.

A type this side does not know is skipped, so either side may add one later.
"""

from __future__ import annotations

import struct

DATA = b"d"
RESIZE = b"r"
END = b"e"
#: The largest payload accepted; a longer frame ends the connection.
MAX_PAYLOAD = 1 << 20
HEADER = struct.Struct(">cI")


class FrameError(ValueError):
    """The peer sent something that is not a frame of this protocol."""


def frame(kind: bytes, payload: bytes = b"") -> bytes:
    return HEADER.pack(kind, len(payload)) + payload


def resize(rows: int, columns: int) -> bytes:
    return frame(RESIZE, struct.pack(">HH", rows, columns))


def size_of(payload: bytes) -> tuple[int, int] | None:
    """A resize frame's (rows, columns); None if it does not hold a usable size."""
    if len(payload) != 4:
        return None
    rows, columns = struct.unpack(">HH", payload)
    return (rows, columns) if rows and columns else None


class Decoder:
    """Frames out of a byte stream that arrives in chunks of any size."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[bytes, bytes]]:
        self._buffer += data
        frames: list[tuple[bytes, bytes]] = []
        while len(self._buffer) >= HEADER.size:
            kind, length = HEADER.unpack_from(self._buffer)
            if length > MAX_PAYLOAD:
                raise FrameError(f"frame of {length} bytes (at most {MAX_PAYLOAD})")
            end = HEADER.size + length
            if len(self._buffer) < end:
                break
            frames.append((kind, bytes(self._buffer[HEADER.size:end])))
            del self._buffer[:end]
        return frames
