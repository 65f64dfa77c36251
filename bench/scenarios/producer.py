"""Fallback benchmark service, used only when no C compiler is available.

Same command line and output as producer.c (see its header comment); slower to
start, so the C build is preferred for the start-up and memory scenarios.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import zlib

LINE_LEN = 60
LINES_PER_WRITE = 64  # 3840 bytes <= PIPE_BUF: atomic on a shared pipe


def build_line(svc: str, seq: int) -> bytes:
    """One 60-byte payload line whose CRC covers service, sequence and padding."""
    padlen = max(1, LINE_LEN - 3 - len(svc) - 1 - 10 - 1 - 8 - 1 - 1)
    pad = chr(ord("a") + seq % 26) * padlen
    body = f"{svc} {seq:010d} {pad}".encode()
    crc = zlib.crc32(body)
    return f"@B {svc} {seq:010d} {crc:08x} {pad}\n".encode()


def write_all(data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(1, view)
        view = view[n:]


def sleep_forever() -> None:
    while True:
        signal.pause()


def ready(svc: str) -> None:
    write_all(f"@R {svc} {os.getpid()}\n".encode())


def main(argv: list[str]) -> int:
    mode, svc = argv[1], argv[2]
    if mode == "fire":
        count, linger = int(argv[3]), argv[4] == "linger"
        lines = [build_line(svc, i) for i in range(count)]
        for start in range(0, count, LINES_PER_WRITE):
            write_all(b"".join(lines[start : start + LINES_PER_WRITE]))
        if linger:
            sleep_forever()
        return 0
    if mode in ("idle", "stubborn"):
        if mode == "stubborn":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        ready(svc)
        sleep_forever()
    if mode == "parent":
        for i in range(int(argv[3])):
            if os.fork() == 0:
                os.execv(sys.executable, [sys.executable, "-S", __file__, "idle", f"{svc}-g{i}"])
        ready(svc)
        sleep_forever()
    if mode == "fail":
        ready(svc)
        time.sleep(int(argv[3]) / 1000)
        write_all(f"@X {svc} {time.monotonic_ns()} {argv[4]}\n".encode())
        return int(argv[4])
    if mode == "tick":
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        seq = 0
        while True:
            write_all(f"@T {svc} {seq}\n".encode())
            seq += 1
            time.sleep(int(argv[3]) / 1000)
    print("producer: bad arguments", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
