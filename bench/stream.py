"""Reading a runner's stdout and checking the payload lines it delivered.

Producers tag their lines (`@B` payload, `@R` ready, `@X` exit, `@T` tick);
the tags survive whatever prefix a runner adds, so counting and validation
need nothing from the runner but its bytes.
"""

from __future__ import annotations

import os
import re
import select
import time
import zlib
from dataclasses import dataclass, field

TAG_PAYLOAD, TAG_READY, TAG_EXIT, TAG_TICK = b"@B ", b"@R ", b"@X ", b"@T "
TAGS = (TAG_PAYLOAD, TAG_READY, TAG_EXIT, TAG_TICK)
ANSI_RE = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass
class Stream:
    """Fast reader of the runner's stdout: big os.read calls, per-tag counters.

    Only complete lines are counted, so a tag split across two reads is never
    missed; the text is kept for payload validation after the run.
    """

    fd: int
    tail: bytes = b""
    parts: list[bytes] = field(default_factory=list)
    counts: dict[bytes, int] = field(default_factory=lambda: dict.fromkeys(TAGS, 0))
    first: dict[bytes, float] = field(default_factory=dict)
    last: dict[bytes, float] = field(default_factory=dict)
    lines: int = 0
    eof: bool = False

    def pump(self, timeout: float) -> bool:
        """Read whatever is available within `timeout`; False if nothing came."""
        if self.eof:
            time.sleep(max(0.0, timeout))
            return False
        ready, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
        if not ready:
            return False
        data = os.read(self.fd, 1 << 20)
        now = time.monotonic()
        if not data:
            self.eof = True
            return False
        cut = data.rfind(b"\n")
        if cut < 0:
            self.tail += data
            return True
        complete, self.tail = self.tail + data[: cut + 1], data[cut + 1 :]
        self.parts.append(complete)
        self.lines += complete.count(b"\n")
        for tag in TAGS:
            n = complete.count(tag)
            if n:
                self.counts[tag] += n
                self.first.setdefault(tag, now)
                self.last[tag] = now
        return True

    def text(self) -> bytes:
        return b"".join(self.parts) + self.tail


def check_payload(data: bytes, expected: dict[str, int]) -> dict[str, float]:
    """Lost / torn / duplicated / reordered payload lines, from the payload alone."""
    if b"\x1b" in data:
        data = ANSI_RE.sub(b"", data)
    seen: dict[bytes, set[int]] = {}
    high: dict[bytes, int] = {}
    torn = dup = reordered = 0
    for line in data.split(b"\n"):
        i = line.find(TAG_PAYLOAD)
        if i < 0:
            continue
        parts = line[i + 3 :].rstrip(b"\r ").split(b" ")
        if len(parts) != 4 or TAG_PAYLOAD in line[i + 3 :]:
            torn += 1
            continue
        svc, seq_b, crc_b, pad = parts
        try:
            ok = zlib.crc32(b" ".join((svc, seq_b, pad))) == int(crc_b, 16)
            seq = int(seq_b)
        except ValueError:
            ok = False
        if not ok:
            torn += 1
            continue
        got = seen.setdefault(svc, set())
        if seq in got:
            dup += 1
            continue
        if seq < high.get(svc, -1):
            reordered += 1
        got.add(seq)
        high[svc] = max(high.get(svc, -1), seq)
    lost = sum(
        n - len(seen.get(name.encode(), set()) & set(range(n))) for name, n in expected.items()
    )
    return {"lost": lost, "torn": torn, "duplicated": dup, "reordered": reordered}
