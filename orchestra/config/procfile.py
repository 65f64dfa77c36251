"""Read a foreman/honcho `Procfile` into named commands, reporting every bad line at once.

Unlike honcho, which silently skips lines it cannot parse, a line that is neither a comment,
blank, nor `name: command` is an error: a typo such as `web gunicorn app` would otherwise make a
process vanish without a word. Commands are kept verbatim (no interpolation): `$PORT` and friends
are for the shell that runs the command, with the service's environment (DESIGN §2.5).
"""

# Annotations are evaluated here, not kept as strings: see orchestra/records.py.

import os
import re
from typing import NamedTuple

from orchestra.config.textfile import excerpt, read_config_text
from orchestra.errors import ConfigError, Location, Problem

_ENTRY = re.compile(r"^([A-Za-z0-9_-]+):\s*(.+)$")
#: LF, CRLF, or a lone CR (a file saved with classic Mac line endings): each ends a line, as
#: for Python's universal newlines. Left in a command, a CR would reach the shell as text.
_LINE_END = re.compile(r"\r\n|\r|\n")


class ProcfileEntry(NamedTuple):
    """One `name: command` line; `line` is 1-based, for messages about this process.

    A NamedTuple, not a frozen dataclass: a reader's result, not the model, and a dataclass
    costs every start ~0.5 ms to create (see runtime/events.py)."""

    name: str
    command: str
    line: int


def read_procfile(path: str | os.PathLike[str]) -> tuple[ProcfileEntry, ...]:
    """Read and parse the Procfile at `path`; any failure is a `ConfigError`, never a traceback."""
    path = os.fspath(path)
    text = read_config_text(path)
    if text is None:
        raise ConfigError.single(path, "no such file")
    return parse_procfile(text, path)


def parse_procfile(text: str, file: str) -> tuple[ProcfileEntry, ...]:
    """Parse Procfile `text`; `file` is only used to locate problems.

    All problems (malformed lines, duplicate names, no entries) are collected and raised together
    as one `ConfigError`, so a single `orchestra check` shows everything.
    """
    entries: list[ProcfileEntry] = []
    problems: list[Problem] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(_LINE_END.split(text.removeprefix("\ufeff")), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _ENTRY.match(line)
        if match is None or not match.group(2).strip():
            problems.append(_problem(file, number, f"malformed line {excerpt(line)} "
                                                   "(expected 'name: command')"))
            continue
        name, command = match.group(1), match.group(2)
        if "\0" in command:
            # Refused here because exec() would fail later with a bare ValueError.
            problems.append(_problem(file, number, f"command of '{name}' contains a NUL character"))
        elif name in first_line:
            first = first_line[name]
            problems.append(_problem(
                file, number, f"duplicate process '{name}' (first defined at line {first})"))
        else:
            first_line[name] = number
            entries.append(ProcfileEntry(name, command, number))
    if not entries and not problems:
        problems.append(Problem(Location(file), "", "no processes defined"))
    if problems:
        raise ConfigError(problems)
    return tuple(entries)


def _problem(file: str, line: int, message: str) -> Problem:
    return Problem(Location(file, line, 1), "", message)
