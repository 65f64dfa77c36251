"""On a terminal, a service's control characters are shown, not obeyed (output/terminal.py).

`printf '\\rweb | fake'` must not overwrite the real prefix, nor `\\e[1A\\e[2K` erase orchestra's
lines; colours stay. `--raw` keeps the bytes; pipes and files always get them as written.
The end-to-end tests run orchestra on a real pseudo-terminal.
"""

from __future__ import annotations

import os
import pty
import subprocess
import tempfile
import threading
from collections.abc import Sequence

import pytest
from helpers.orch import PY, Project

from orchestra.output.mux import Multiplexer
from orchestra.output.options import OutputOptions
from orchestra.output.terminal import needs_neutralising, neutralise

R = b"\x1b[0m"


@pytest.mark.parametrize(("text", "shown"), [
    (b"real\rweb | fake", b"real^Mweb | fake"),
    (b"up\x1b[1A\x1b[2Kgone", b"up^[[1A^[[2Kgone"),
    (b"bs\x08\x08X", b"bs^H^HX"),
    (b"\x1b]0;title\x07 osc", b"^[]0;title^G osc"),
    (b"\x1b]52;c;aGk=\x1b\\ clipboard", b"^[]52;c;aGk=^[\\ clipboard"),
    # the other C0 controls are searched for only with ESC, CR or BS (see needs_neutralising)
    (b"\r so\x0eshifted\x0f del\x7f nul\x00", b"^M so^Nshifted^O del^? nul^@"),
    ("c1 \u009b2J csi".encode(), b"c1 M-^[2J csi"),
    (b"tab\tstays\nnext\rline", b"tab\tstays\nnext^Mline"),
    # colours stay, and a line that has one ends with a reset
    (b"\x1b[31mred\x1b[0m \x1b[1;38;5;208mbold", b"\x1b[31mred\x1b[0m \x1b[1;38;5;208mbold" + R),
    (b"\x1b[8mconcealed\nand\x1b[2K", b"\x1b[8mconcealed" + R + b"\nand^[[2K"),
    ("naïve °C \u00a0 ok".encode(), "naïve °C \u00a0 ok".encode()),
])
def test_controls_are_shown_and_colours_kept(text: bytes, shown: bytes) -> None:
    assert needs_neutralising(text, text.isascii())
    assert neutralise(text) == shown


@pytest.mark.parametrize("text", [b"plain line\nand another", b"tab\there", "é ü".encode()])
def test_plain_text_is_not_even_looked_at(text: bytes) -> None:
    assert not needs_neutralising(text, text.isascii())


def mux_output(chunks: Sequence[bytes], **options: object) -> bytes:
    with tempfile.TemporaryFile() as file:
        mux = Multiplexer(file.fileno(), ["web"], OutputOptions(  # type: ignore[arg-type]
            prefix=True, timestamps=False, **options))
        for chunk in chunks:
            mux.feed("web", "stdout", chunk)
        mux.close_stream("web", "stdout")
        mux.system("web: status \x1b[2Kforged\r")
        mux.flush()
        return os.pread(file.fileno(), 1 << 20, 0)


def test_the_multiplexer_neutralises_only_on_a_terminal_without_raw() -> None:
    chunks = [b"ok\nreal\rweb | fa", b"ke\nup\x1b[1A\x1b[2K\n", b"tail\x08"]
    assert mux_output(chunks, terminal=True) == (
        b"web    | ok\nweb    | real^Mweb | fake\nweb    | up^[[1A^[[2K\nweb    | tail^H\n"
        b"system | web: status ^[[2Kforged^M\n")
    as_written = (b"web    | ok\nweb    | real\rweb | fake\nweb    | up\x1b[1A\x1b[2K\n"
                  b"web    | tail\x08\nsystem | web: status \x1b[2Kforged\r\n")
    assert mux_output(chunks, terminal=True, raw=True) == as_written
    assert mux_output(chunks) == as_written


SERVICE = r"printf 'real\rweb | fake\n\033[31mred\033[0m\nup\033[1A\033[2Kgone\n'"
SHOWN = [b"web    | real^Mweb | fake", b"web    | \x1b[31mred\x1b[0m" + R,
         b"web    | up^[[1A^[[2Kgone"]
RAW = [b"web    | real\rweb | fake", b"web    | \x1b[31mred\x1b[0m",
       b"web    | up\x1b[1A\x1b[2Kgone"]


def on_terminal(project: Project, *args: str) -> list[bytes]:
    """orchestra's lines as a terminal receives them (stdout and stderr on a pty)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([PY, "-m", "orchestra", *args], cwd=project.root, env=project.env(),
                            stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    seen = bytearray()

    def pump() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:   # EIO: the last holder of the terminal closed it
                return
            if not chunk:
                return
            seen.extend(chunk)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        rc = proc.wait(20)
        reader.join(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        os.close(master)
    assert rc == 0, bytes(seen)
    # the terminal turns each "\n" into "\r\n"; a service's own lone "\r" stays as it is
    return bytes(seen).split(b"\r\n")


def service_lines(lines: list[bytes]) -> list[bytes]:
    return [line for line in lines if line.startswith(b"web ")]


def test_up_on_a_terminal_shows_escapes_and_keeps_colours(project: Project) -> None:
    project.yaml({"web": {"command": SERVICE}})
    assert service_lines(on_terminal(project, "up", "--no-timestamps", "--no-color")) == SHOWN


def test_each_run_decides_whether_its_output_is_a_terminal(project: Project) -> None:
    project.yaml({"web": {"command": SERVICE}})
    args = ("up", "--no-timestamps", "--no-color")
    piped = subprocess.run([PY, "-m", "orchestra", *args], cwd=project.root,
                           env=project.env(), stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=20, check=True)
    assert service_lines(piped.stdout.split(b"\n")) == RAW   # a pipe gets the bytes
    assert service_lines(on_terminal(project, *args)) == SHOWN


def test_raw_passes_escapes_to_the_terminal(project: Project) -> None:
    project.yaml({"web": {"command": SERVICE}})
    assert service_lines(on_terminal(project, "up", "--no-timestamps", "--no-color", "--raw")) \
        == RAW


@pytest.mark.parametrize(("flag", "expected"), [((), SHOWN), (("--raw",), RAW)])
def test_run_with_services_on_a_terminal(project: Project, flag: tuple[str, ...],
                                         expected: list[bytes]) -> None:
    project.yaml({"web": {"command": SERVICE + "; exec sleep 30"}})
    lines = on_terminal(project, "run", "--with", "web", "--no-timestamps", "--no-color", *flag,
                        "--", "sh", "-c", "sleep 0.5; printf 'cmd\\r own\\n'")
    assert service_lines(lines) == expected
    assert b"cmd\r own" in lines   # the command's own output is never touched
