"""`orchestra up` output: whole lines, nothing lost or torn, long lines, bytes, JSON, EPIPE."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers.orch import Project, describe, py, select_read, wait_no_leftovers

TEXT = ("--no-timestamps", "--no-color")


def test_partial_last_line_is_printed_at_exit(project: Project) -> None:
    project.yaml({"svc": {"command": py("""
        import sys
        sys.stdout.write("first\\nno newline at the end")
        sys.stdout.flush()
        sys.stderr.write("err without newline")
    """)}})
    result = project.run(*TEXT)
    assert result.rc == 0, result.dump()
    lines = result.of("svc")
    assert lines[:1] == ["first"], result.dump()
    assert sorted(lines[1:]) == ["err without newline", "no newline at the end"], result.dump()


FIREHOSE = """
    import os, random, sys, zlib
    name, count = os.environ["ORCHESTRA_SERVICE"], int(sys.argv[1])
    rng = random.Random(name)
    lines = []
    for i in range(count):
        body = f"{name}:{i}:" + "x" * rng.randrange(0, 120)
        lines.append(f"{body} {zlib.crc32(body.encode()):08x}\\n")
    data = "".join(lines).encode()
    view, pos = memoryview(data), 0
    while pos < len(data):   # chunks that end anywhere, so lines are split across writes
        pos += os.write(1, view[pos:pos + rng.randrange(1, 70000)])
"""


def test_eight_firehoses_lose_tear_or_reorder_nothing(project: Project) -> None:
    count = 50_000
    names = [f"hose{n}" for n in range(8)]
    project.yaml({name: {"command": [*py(FIREHOSE), str(count)]} for name in names})
    result = project.run(*TEXT, timeout=50)
    assert result.rc == 0, result.dump()

    seen: dict[str, int] = dict.fromkeys(names, 0)
    bad: list[str] = []
    for line in result.lines:
        m = re.fullmatch(r"(\S+) +\| ((\S+):(\d+):x* ([0-9a-f]{8}))", line)
        if not m:
            if not line.startswith("system "):
                bad.append(line)
            continue
        name, body, owner, index = m[1], m[2], m[3], int(m[4])
        text, crc = body.rsplit(" ", 1)
        if owner != name or int(crc, 16) != zlib.crc32(text.encode()) or index != seen[name]:
            bad.append(line)
            continue
        seen[name] += 1
    assert not bad, f"{len(bad)} torn/foreign/reordered lines, e.g. {bad[:3]}"
    assert seen == dict.fromkeys(names, count)


def test_one_mebibyte_line_is_intact(project: Project) -> None:
    project.yaml({"svc": {"command": py("""
        import sys
        sys.stdout.write("<" + "0123456789abcdef" * 65536 + ">\\nafter\\n")
    """)}})
    result = project.run(*TEXT)
    assert result.rc == 0, result.dump()
    assert result.of("svc") == ["<" + "0123456789abcdef" * 65536 + ">", "after"]


def test_line_longer_than_max_line_is_cut_into_marked_pieces(project: Project) -> None:
    project.yaml({"svc": {"command": py("""
        print("a" * 1000 + "b" * 1000 + "c" * 500)
        print("short")
    """)}})
    result = project.run(*TEXT, "--max-line", "1000")
    assert result.rc == 0, result.dump()
    pieces = [line for line in result.lines if line.startswith("svc ")]
    assert pieces == [
        "svc    | " + "a" * 1000,
        "svc    + " + "b" * 1000,
        "svc    + " + "c" * 500,
        "svc    | short",
    ], result.dump()


def test_binary_output_becomes_replacement_characters(project: Project, tmp_path: Path) -> None:
    rng = random.Random(1234)
    lines = [bytes(b for b in rng.randbytes(rng.randrange(1, 200)) if b not in b"\r\n")
             for _ in range(300)]
    lines = [line for line in lines if line] + [b"\xff\xfe invalid", b"caf\xc3\xa9 ok"]
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"\n".join(lines) + b"\n")
    project.yaml({"svc": {"command": py(f"""
        import sys
        sys.stdout.buffer.write(open({str(blob)!r}, "rb").read())
        print("done")
    """)}})
    result = project.run(*TEXT)
    assert result.rc == 0, result.dump()
    result.out.decode("utf-8")   # orchestra's own output is valid UTF-8, strictly
    got = [line for line in result.out.split(b"\n") if line.startswith(b"svc    | ")]
    expected = [b"svc    | " + line.decode("utf-8", "replace").encode() for line in lines]
    assert got == [*expected, b"svc    | done"]
    assert "\ufffd invalid" in result.text and "café ok" in result.text


def test_no_colour_when_stdout_is_not_a_terminal(project: Project) -> None:
    project.yaml({"svc": {"command": py("print('plain')")}})
    result = project.run()
    assert result.rc == 0, result.dump()
    assert "\x1b" not in result.text
    assert re.search(r"^\d\d:\d\d:\d\d svc +\| plain$", result.text, re.M), result.dump()


def test_json_output_is_one_object_per_line(project: Project) -> None:
    project.yaml({"svc": {"command": py("""
        import sys
        print("to stdout")
        sys.stderr.write("to stderr\\n")
        sys.exit(0)
    """)}})
    result = project.run("--output", "json")
    assert result.rc == 0, result.dump()
    records = result.json()
    for record in records:
        assert isinstance(record["ts"], float | int) and record["ts"] > 1e9, record
        assert {"service", "stream", "text"} <= record.keys(), record
    outputs = [(r["service"], r["stream"], r["text"]) for r in records
               if r["stream"] in ("stdout", "stderr")]
    assert sorted(outputs) == [("svc", "stderr", "to stderr"), ("svc", "stdout", "to stdout")]
    events = [(r["service"], r.get("event")) for r in records if r["stream"] == "system"]
    assert ("svc", "running") in events and ("svc", "exited") in events, records
    running = next(r for r in records if r.get("event") == "running")
    assert isinstance(running.get("pid"), int), running
    exited = next(r for r in records if r.get("event") == "exited")
    assert exited.get("rc") == 0, exited


@pytest.mark.skipif(not os.path.exists("/proc/self/fd"), reason="lists fds from Linux's /proc")
def test_fd_hygiene_children_see_only_stdio(project: Project, tmp_path: Path) -> None:
    lister = py("""
        import json, os
        fds = {}
        for fd in os.listdir("/proc/self/fd"):
            try:
                fds[fd] = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:   # the directory fd os.listdir used, closed by now
                fds[fd] = None
        print(json.dumps(fds))
    """)
    project.yaml({f"s{n}": {"command": lister} for n in range(3)})
    leak = os.open(tmp_path / "leak.txt", os.O_CREAT | os.O_RDWR)
    try:
        result = project.start(*TEXT, pass_fds=[leak]).wait(20)
    finally:
        os.close(leak)
    assert result.rc == 0, result.dump()
    for name in ("s0", "s1", "s2"):
        (text,) = result.of(name)
        fds = {int(k): v for k, v in json.loads(text).items()}
        assert fds[0] == "/dev/null", fds
        assert fds[1].startswith("pipe:") and fds[2].startswith("pipe:"), fds
        extra = {fd: target for fd, target in fds.items() if fd > 2}
        # the only extra fd is the one os.listdir used (already closed when readlink ran)
        assert list(extra.values()) in ([], [None]), f"{name} inherited {extra}"


def read_until(fd: int, found: Callable[[bytes], bool], what: str,
               timeout: float = 10.0) -> bytes:
    """Read `fd` until `found(everything read)`, failing after `timeout` seconds."""
    seen = b""
    deadline = time.monotonic() + timeout
    while not found(seen):
        assert time.monotonic() < deadline, f"no {what} within {timeout:g} s: {seen[-500:]!r}"
        seen += select_read(fd, timeout)
    return seen


def test_epipe_on_stdout_stops_everything_promptly(project: Project) -> None:
    project.yaml({
        "chatty": {"command": py("""
            import itertools
            for i in itertools.count():
                print("line", i, flush=True)
        """)},
        "quiet": {"command": py("import time; print('up', flush=True); time.sleep(60)")},
    })
    proc = subprocess.Popen(   # like `orchestra up | head -1`
        project.argv(TEXT), cwd=project.root, env=project.env(), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        assert proc.stdout is not None
        read_until(proc.stdout.fileno(), lambda seen: b"chatty | line" in seen.replace(b"  ", b""),
                   "chatty line")
        started = time.monotonic()
        proc.stdout.close()   # the reader goes away; orchestra's next write gets EPIPE
        rc = proc.wait(10)
        elapsed = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.stderr is not None
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    assert rc > 0, f"orchestra exited with {rc} after EPIPE (negative: killed by a signal)\n{err}"
    assert elapsed < 5.0, f"orchestra took {elapsed:.1f} s to stop after EPIPE"
    left = wait_no_leftovers(project.mark, 3.0)
    assert not left, f"left behind: {describe(left)}"


def test_reader_going_away_is_noticed_when_nothing_more_is_printed(project: Project) -> None:
    """`orchestra up | head -3` with services that go quiet: no write fails, orchestra must
    notice the closed pipe by itself."""
    project.yaml({"quiet": {"command": py("import time; print('up', flush=True); "
                                          "time.sleep(60)")}})
    proc = subprocess.Popen(
        project.argv(TEXT), cwd=project.root, env=project.env(), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert proc.stdout is not None
        read_until(proc.stdout.fileno(), lambda seen: b"| up" in seen, "service line")
        proc.stdout.close()
        rc = proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert rc == 1, rc
    left = wait_no_leftovers(project.mark, 3.0)
    assert not left, f"left behind: {describe(left)}"
