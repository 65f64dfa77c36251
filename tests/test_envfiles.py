"""`.env` files: dotenv's syntax, literal values, and each problem at its line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestra.config.envfiles import EnvFile, merge_env_files, read_env_file
from orchestra.errors import ConfigError


def write(tmp_path: Path, data: str | bytes, name: str = ".env") -> Path:
    path = tmp_path / name
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("text", "values", "lines"),
    [
        ("A=1\nB=two\n", {"A": "1", "B": "two"}, {"A": 1, "B": 2}),
        ("# comment\n\n\nA=1\n", {"A": "1"}, {"A": 4}),
        ("export A=1\n  export B=2\n", {"A": "1", "B": "2"}, {"A": 1, "B": 2}),
        ("A=\n", {"A": ""}, {"A": 1}),
        ("A= # just a comment\n", {"A": ""}, {"A": 1}),
        ("A=x # trailing comment\n", {"A": "x"}, {"A": 1}),
        ('A="quoted # not a comment"\n', {"A": "quoted # not a comment"}, {"A": 1}),
        ("A='single  spaced'\n", {"A": "single  spaced"}, {"A": 1}),
        ("A=unquoted with spaces\n", {"A": "unquoted with spaces"}, {"A": 1}),
        ('A="line1\nline2\nline3"\nB=after\n', {"A": "line1\nline2\nline3", "B": "after"},
         {"A": 1, "B": 4}),
        ('A="esc\\n\\"q\\""\n', {"A": 'esc\n"q"'}, {"A": 1}),
        # values are literal: no ${} expansion inside .env (as honcho/foreman)
        ("A=1\nB=${A}-$A\n", {"A": "1", "B": "${A}-$A"}, {"A": 1, "B": 2}),
        ("A=1\r\nB=2\r\n", {"A": "1", "B": "2"}, {"A": 1, "B": 2}),
        ('A="x\r\ny"\r\n', {"A": "x\ny"}, {"A": 1}),
        ("A=1\nB=2\nA=3\n", {"A": "3", "B": "2"}, {"A": 3, "B": 2}),
        ("KEY_ONLY\nA=1\n", {"A": "1"}, {"A": 2}),
        ("\ufeffA=1\n", {"A": "1"}, {"A": 1}),
        ("A=1", {"A": "1"}, {"A": 1}),
        ("", {}, {}),
        ("_x9=ok\n", {"_x9": "ok"}, {"_x9": 1}),
    ],
)
def test_values_and_lines(tmp_path: Path, text: str, values: dict[str, str],
                          lines: dict[str, int]) -> None:
    path = write(tmp_path, text)
    env = read_env_file(path, required=True)
    assert env.path == str(path)
    assert dict(env.values) == values
    assert dict(env.lines) == lines


@pytest.mark.parametrize(
    ("text", "messages"),
    [
        ("A=1\n=nokey\n", ["2: cannot parse '=...' (expected NAME=value; the value is not shown)"]),
        ('A=1\n\nB="unterminated\nC=3\n',
         ["3: cannot parse 'B=...' (expected NAME=value; the value is not shown)"]),
        ("ok=1\n'A=B'=2\nA.B-1=3\n", ["2: invalid variable name 'A=B'"]),
        ("A=a\0b\n", ["1: value of 'A' contains a NUL character"]),
        ("X" * 80 + "='unterminated\n",
         [f"1: cannot parse '{'X' * 57}...' (expected NAME=value; the value is not shown)"]),
    ],
)
def test_problems_are_collected_with_lines(tmp_path: Path, text: str, messages: list[str]) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        read_env_file(path, required=True)
    assert [str(p) for p in caught.value.problems] == [f"{path}:{m}" for m in messages]


@pytest.mark.parametrize("text", [
    'PASSWORD="S3NT-hunter2\n',
    "export PASSWORD='S3NT-hunter2\n",
    "S3NT-hunter2 'x\n",
    "=S3NT-hunter2\n",
])
def test_a_statement_that_cannot_be_parsed_is_reported_without_its_value(
        tmp_path: Path, text: str) -> None:
    """An unclosed quote in a password must not print the password (CI logs keep stderr)."""
    path = write(tmp_path, "A=1\n" + text)
    with pytest.raises(ConfigError) as caught:
        read_env_file(path, required=True)
    (problem,) = caught.value.problems
    assert problem.location.line == 2
    assert "cannot parse" in problem.message
    assert "S3NT" not in str(problem)


def test_missing_optional_file_is_empty(tmp_path: Path) -> None:
    env = read_env_file(tmp_path / ".env", required=False)
    assert env == EnvFile(str(tmp_path / ".env"), {}, {})


def test_missing_required_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        read_env_file(tmp_path / "prod.env", required=True)
    assert str(caught.value) == f"{tmp_path / 'prod.env'}: no such file"


@pytest.mark.parametrize("required", [True, False])
def test_directory_is_a_problem_even_when_optional(tmp_path: Path, required: bool) -> None:
    (tmp_path / ".env").mkdir()
    with pytest.raises(ConfigError) as caught:
        read_env_file(tmp_path / ".env", required=required)
    assert str(caught.value) == f"{tmp_path / '.env'}: is a directory, not a file"


def test_not_utf8(tmp_path: Path) -> None:
    path = write(tmp_path, b"A=1\nB=caf\xe9\n")
    with pytest.raises(ConfigError) as caught:
        read_env_file(path, required=False)
    assert str(caught.value) == f"{path}:2:6: not valid UTF-8 (byte 0xe9)"


@pytest.mark.skipif(not os.path.exists("/proc/self/mem"), reason="uses Linux's /proc/self/mem")
def test_unreadable() -> None:
    """A file that exists but cannot be read (even by root): reading /proc/self/mem fails."""
    path = Path("/proc/self/mem")
    with pytest.raises(ConfigError) as caught:
        read_env_file(path, required=False)
    assert str(caught.value) == f"{path}: cannot read: Input/output error"


@pytest.mark.timeout(10)
def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / ".env")
    with pytest.raises(ConfigError) as caught:
        read_env_file(tmp_path / ".env", required=False)
    assert str(caught.value) == f"{tmp_path / '.env'}: is not a regular file"


def test_values_are_read_only(tmp_path: Path) -> None:
    env = read_env_file(write(tmp_path, "A=1\n"), required=True)
    with pytest.raises(TypeError):
        env.values["A"] = "2"  # type: ignore[index]


def test_merge_later_files_win(tmp_path: Path) -> None:
    first = read_env_file(write(tmp_path, "A=1\nB=1\n", "a.env"), required=True)
    second = read_env_file(write(tmp_path, "B=2\nC=2\n", "b.env"), required=True)
    assert merge_env_files([first, second]) == {"A": "1", "B": "2", "C": "2"}
    assert merge_env_files([second, first]) == {"A": "1", "B": "1", "C": "2"}
    assert merge_env_files([]) == {}
