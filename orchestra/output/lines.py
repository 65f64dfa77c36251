"""Turn the raw chunks of one child's pipe into runs of complete lines.

Chunks end anywhere, so each (service, stream) keeps the bytes after its last newline until the
rest arrives. The splitter works on whole chunks: one `rfind` finds the last newline and
everything before it leaves as a single run; only a line longer than `max_line` costs work
per line, and that is rare. Lines are never read with `readline`, which fails at 64 KiB.
"""

# Annotations are evaluated here, not kept as strings: see orchestra/records.py.

from typing import NamedTuple

_CR = 0x0D


class Run(NamedTuple):
    """Complete lines joined by b"\\n", without the final newline.

    Every line is at most `max_line` bytes. When `continued` is true, the first line of the run
    is a later piece of a line that was cut at `max_line`.
    """

    text: bytes
    continued: bool


class LineSplitter:
    """The line state of one stream: the partial last line and whether it was already cut."""

    __slots__ = ("_continued", "_max", "_pending", "_pending_len")

    def __init__(self, max_line: int) -> None:
        self._max = max_line
        # The partial line is kept as a list of chunks so that a long line arriving in many
        # chunks is joined once, not copied again with every chunk (quadratic time).
        self._pending: list[bytes] = []
        self._pending_len = 0
        self._continued = False

    def feed(self, data: bytes) -> list[Run]:
        """Take a chunk; return the runs of lines it completed (possibly none)."""
        cut = data.rfind(b"\n")
        if cut < 0:
            self._pending.append(data)
            self._pending_len += len(data)
            return self._overflow() if self._pending_len > self._max else []
        block = data[:cut]
        if self._pending:
            self._pending.append(block)
            block = b"".join(self._pending)
        rest = data[cut + 1 :]
        self._pending = [rest] if rest else []
        self._pending_len = len(rest)
        runs = self._complete(block)
        if self._pending_len > self._max:
            runs += self._overflow()
        return runs

    def finish(self) -> list[Run]:
        """End of stream: the partial line, if any, becomes a line of its own."""
        text = b"".join(self._pending)
        continued = self._continued
        self._pending = []
        self._pending_len = 0
        self._continued = False
        return [Run(text, continued)] if text else []

    def _complete(self, block: bytes) -> list[Run]:
        """Runs for `block`, complete lines whose last newline was already removed."""
        if b"\r" in block:
            block = block.replace(b"\r\n", b"\n")
            if block.endswith(b"\r"):
                block = block[:-1]
        continued = self._continued
        self._continued = False
        if len(block) <= self._max:
            return [Run(block, continued)]
        lines = block.split(b"\n")
        if max(map(len, lines)) <= self._max:
            return [Run(block, continued)]
        return self._cut_lines(lines, continued)

    def _cut_lines(self, lines: list[bytes], continued: bool) -> list[Run]:
        """The slow path: some line is too long, so every line becomes its own run."""
        runs: list[Run] = []
        for line in lines:
            start = 0
            while len(line) - start > self._max:
                end = cut_point(line, start, self._max)
                runs.append(Run(line[start:end], continued))
                continued = True
                start = end
            runs.append(Run(line[start:], continued))
            continued = False
        return runs

    def _overflow(self) -> list[Run]:
        """Emit the too-long partial line as pieces now, so memory per stream stays bounded."""
        data = b"".join(self._pending)
        runs: list[Run] = []
        start = 0
        while len(data) - start > self._max:
            end = cut_point(data, start, self._max)
            runs.append(Run(data[start:end], self._continued))
            self._continued = True
            start = end
        rest = data[start:]
        self._pending = [rest]
        self._pending_len = len(rest)
        return runs


def cut_point(data: bytes, start: int, max_line: int) -> int:
    """Where to end a piece that starts at `start`: at most `max_line` bytes later.

    The cut moves back (at most 3 bytes) to the start of a UTF-8 character, so that a character
    is never torn into two replacement characters; and back before a `\\r`, so that a `\\r\\n`
    line ending is never separated from its newline and stripped as one. A run of 4 or more
    continuation bytes cannot belong to one character, so cutting inside it is safe.
    """
    end = start + max_line
    back = end
    while back > end - 3 and data[back] & 0xC0 == 0x80:
        back -= 1
    if back > start and data[back] & 0xC0 != 0x80:
        end = back
    if end - 1 > start and data[end - 1] == _CR:
        end -= 1
    return end
