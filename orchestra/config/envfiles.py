"""Read `.env` files with python-dotenv's own parser, keeping the line of every key.

dotenv's parser (not a hand-rolled one) is used so quoting, `export`, comments and multi-line
values mean exactly what they mean to every other tool reading the same file. Values are literal:
like honcho and foreman, `${...}` inside a `.env` is not expanded. Unlike `dotenv_values`, a
statement dotenv cannot parse is an error at its line rather than a logged warning.
"""

# Annotations are evaluated here, not kept as strings: see orchestra/records.py.

import io
import os
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, NamedTuple

from orchestra.config.textfile import excerpt, read_config_text
from orchestra.errors import ConfigError, Location, Problem

if TYPE_CHECKING:
    from dotenv.parser import Original


class EnvFile(NamedTuple):
    """The variables of one env file; `lines` maps each key to the 1-based line that set it.

    A NamedTuple, not a frozen dataclass: a reader's result, not the model, and a dataclass
    costs every start ~0.5 ms to create (see runtime/events.py)."""

    path: str
    values: Mapping[str, str]
    lines: Mapping[str, int]


def read_env_file(path: str | os.PathLike[str], *, required: bool) -> EnvFile:
    """Read the env file at `path`; every problem in it is collected into one `ConfigError`."""
    env_file, problems = read_env_file_and_problems(path, required=required)
    if problems:
        raise ConfigError(problems)
    return env_file


def read_env_file_and_problems(path: str | os.PathLike[str], *,
                               required: bool) -> tuple[EnvFile, list[Problem]]:
    """The variables of every statement that parsed, and a problem for each one that did not,
    so the rest of the project can still be checked in the same run.

    A missing file is an error only when `required`: the implicit project `.env` is optional,
    a file named in `env_file:` is not. Names are what dotenv accepts (`A.B` too: a list
    command gets it; a shell drops what it cannot hold); only `=` and NUL are refused, which
    no environment can carry.
    """
    file = path = os.fspath(path)
    text = read_config_text(path)
    if text is None:
        missing = [_missing(path)] if required else []
        return EnvFile(path, MappingProxyType({}), MappingProxyType({})), missing
    from dotenv.parser import parse_stream  # only where there is an env file to read

    # Universal newlines, as dotenv's own loader reads files: a CRLF file's values carry no '\r'.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    values: dict[str, str] = {}
    lines: dict[str, int] = {}
    problems: list[Problem] = []
    for binding in parse_stream(io.StringIO(text)):
        line = _statement_line(binding.original)
        key, value = binding.key, binding.value
        if binding.error:
            problems.append(_problem(file, line, _unparsable(binding.original.string)))
        elif key is None or value is None:
            continue  # blank, comment, or a bare `KEY` without '=' (dotenv ignores it too)
        elif not key or "=" in key or "\0" in key:
            problems.append(_problem(file, line, f"invalid variable name {excerpt(key)}"))
        elif "\0" in value:
            # Refused here because exec() would fail later with a bare ValueError.
            problems.append(_problem(file, line, f"value of '{key}' contains a NUL character"))
        else:
            values[key] = value  # later duplicates win, as in dotenv
            lines[key] = line
    return EnvFile(path, MappingProxyType(values), MappingProxyType(lines)), problems


def _unparsable(statement: str) -> str:
    """What to say of a statement dotenv cannot parse, without its value: an env file holds
    secrets (a password with an unclosed quote), and this message may end in a CI log."""
    name, equals, _ = statement.strip().partition("=")
    if not equals:
        return "cannot parse this statement (expected NAME=value; the line is not shown)"
    return f"cannot parse {excerpt(name.removeprefix('export ').strip() + '=...')} " \
        "(expected NAME=value; the value is not shown)"


class EnvFileCache:
    """Each env file read once per load, however many services and replicas name it.

    The problems of a file are returned with it every time; the caller that reports them
    decides whether it already has.
    """

    def __init__(self) -> None:
        self._read: dict[str, tuple[EnvFile, list[Problem]]] = {}

    def read(self, path: str | os.PathLike[str], *,
             required: bool) -> tuple[EnvFile, list[Problem]]:
        """As `read_env_file_and_problems`."""
        path = os.fspath(path)
        if path not in self._read:
            self._read[path] = read_env_file_and_problems(path, required=True)
        env_file, problems = self._read[path]
        if not required and problems == [_missing(path)]:
            return env_file, []
        return env_file, problems


def merge_env_files(files: Sequence[EnvFile]) -> dict[str, str]:
    """Layer env files in order: a key in a later file overrides the same key in an earlier one."""
    merged: dict[str, str] = {}
    for env_file in files:
        merged.update(env_file.values)
    return merged


def _statement_line(original: "Original") -> int:
    """The line where the statement itself starts.

    dotenv reports where its scan started, which is before any blank lines preceding the
    statement; without this, a key after a blank line would be reported one line too early.
    """
    string = original.string
    leading = string[: len(string) - len(string.lstrip())]
    return int(original.line) + leading.count("\n")


def _missing(path: str) -> Problem:
    return Problem(Location(path), "", "no such file")


def _problem(file: str, line: int, message: str) -> Problem:
    return Problem(Location(file, line), "", message)
