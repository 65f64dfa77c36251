"""Procfile parsing: honcho-compatible lines, and every bad line reported with its number."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestra.config.procfile import ProcfileEntry, parse_procfile, read_procfile
from orchestra.errors import ConfigError

F = "Procfile"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("web: python app.py\n", [("web", "python app.py", 1)]),
        # the shell expands $PORT at run time: kept verbatim, colons in the command included
        ("web: gunicorn app:wsgi --bind :$PORT\n",
         [("web", "gunicorn app:wsgi --bind :$PORT", 1)]),
        ("# comment\n\nweb: a\n   \n\t\n  # indented comment\nworker: b\n",
         [("web", "a", 3), ("worker", "b", 7)]),
        ("web: a\r\nworker: b\r\n", [("web", "a", 1), ("worker", "b", 2)]),
        # a lone CR (classic Mac line endings) ends a line too: no command gets a "\r"
        ("web: a\rworker: b\r", [("web", "a", 1), ("worker", "b", 2)]),
        ("web: a\r\rworker: b\nclock: c\r\n", [("web", "a", 1), ("worker", "b", 3),
                                              ("clock", "c", 4)]),
        ("web:a", [("web", "a", 1)]),
        ("web:     spaced   out", [("web", "spaced   out", 1)]),
        ("my-web_2: x", [("my-web_2", "x", 1)]),
        ("web: echo ${HOME} $$ 'a: b' # not a comment", [
            ("web", "echo ${HOME} $$ 'a: b' # not a comment", 1)]),
        ("\ufeffweb: a\n", [("web", "a", 1)]),
        ("web: a\n\n\n", [("web", "a", 1)]),
    ],
)
def test_parse_valid(text: str, expected: list[tuple[str, str, int]]) -> None:
    assert parse_procfile(text, F) == tuple(ProcfileEntry(*e) for e in expected)


@pytest.mark.parametrize(
    ("text", "messages"),
    [
        ("web gunicorn app\n",
         ["Procfile:1:1: malformed line 'web gunicorn app' (expected 'name: command')"]),
        ("web: a\nweb.1: b\n  worker: c\nworker:\nx:   \n: y\n", [
            "Procfile:2:1: malformed line 'web.1: b' (expected 'name: command')",
            "Procfile:3:1: malformed line '  worker: c' (expected 'name: command')",
            "Procfile:4:1: malformed line 'worker:' (expected 'name: command')",
            "Procfile:5:1: malformed line 'x:   ' (expected 'name: command')",
            "Procfile:6:1: malformed line ': y' (expected 'name: command')",
        ]),
        ("# c\nweb: a\nworker: b\nweb: c\nweb: d\n", [
            "Procfile:4:1: duplicate process 'web' (first defined at line 2)",
            "Procfile:5:1: duplicate process 'web' (first defined at line 2)",
        ]),
        ("bad\r\nweb: a\r\nweb: b\r\n", [
            "Procfile:1:1: malformed line 'bad' (expected 'name: command')",
            "Procfile:3:1: duplicate process 'web' (first defined at line 2)",
        ]),
        ("", ["Procfile: no processes defined"]),
        ("# only\n\n  \n", ["Procfile: no processes defined"]),
        ("x" * 100, [f"Procfile:1:1: malformed line '{'x' * 57}...' (expected 'name: command')"]),
        ("bad\x1b[31m", [r"Procfile:1:1: malformed line 'bad\x1b[31m' (expected 'name: command')"]),
        ("web: a\0b", ["Procfile:1:1: command of 'web' contains a NUL character"]),
    ],
)
def test_parse_problems(text: str, messages: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_procfile(text, F)
    assert [str(p) for p in caught.value.problems] == messages


def test_all_malformed_does_not_also_report_no_processes() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_procfile("nope\n", F)
    assert len(caught.value.problems) == 1


def test_read_real_file(tmp_path: Path) -> None:
    path = tmp_path / "Procfile"
    path.write_bytes(b"# app\r\nweb: gunicorn app:wsgi --bind :$PORT\r\n\r\nworker: celery\r\n")
    assert read_procfile(path) == (
        ProcfileEntry("web", "gunicorn app:wsgi --bind :$PORT", 2),
        ProcfileEntry("worker", "celery", 4),
    )


def test_problem_names_the_file_path(tmp_path: Path) -> None:
    path = tmp_path / "Procfile"
    path.write_text("web: a\nbroken\n")
    with pytest.raises(ConfigError) as caught:
        read_procfile(path)
    assert str(caught.value) == (
        f"{path}:2:1: malformed line 'broken' (expected 'name: command')")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        read_procfile(tmp_path / "Procfile")
    assert str(caught.value) == f"{tmp_path / 'Procfile'}: no such file"


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        read_procfile(tmp_path)
    assert str(caught.value) == f"{tmp_path}: is a directory, not a file"


@pytest.mark.timeout(10)
def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "Procfile"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError) as caught:
        read_procfile(fifo)
    assert str(caught.value) == f"{fifo}: is not a regular file"


@pytest.mark.skipif(not os.path.exists("/proc/self/mem"), reason="uses Linux's /proc/self/mem")
def test_read_error_becomes_problem() -> None:
    """A file that exists but cannot be read (even by root): reading /proc/self/mem fails."""
    path = Path("/proc/self/mem")
    with pytest.raises(ConfigError) as caught:
        read_procfile(path)
    assert str(caught.value) == f"{path}: cannot read: Input/output error"


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (b"web: caf\xe9\n", "1:9: not valid UTF-8 (byte 0xe9)"),
        (b"# ok\nweb: a\n\xffworker: b\n", "3:1: not valid UTF-8 (byte 0xff)"),
        (b"web: a\r\nworker: \xc3\n", "2:9: not valid UTF-8 (byte 0xc3)"),
    ],
)
def test_not_utf8_reports_first_bad_byte(tmp_path: Path, data: bytes, where: str) -> None:
    path = tmp_path / "Procfile"
    path.write_bytes(data)
    with pytest.raises(ConfigError) as caught:
        read_procfile(path)
    assert str(caught.value) == f"{path}:{where}"
