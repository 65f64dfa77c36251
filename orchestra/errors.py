"""The errors library code raises; only `orchestra.cli` turns them into exit codes.

A config problem always carries where it was found (file, line, column) and the field path, so
that a user reading `orchestra.yaml:12:5: services.web.depends_on: unknown service 'dbb'` can go
straight to the place. Problems are collected, never raised one at a time, so one run of
`orchestra check` shows everything that is wrong.
"""

# Annotations are evaluated here, not kept as strings: see orchestra/records.py.

from collections.abc import Iterable
from typing import NamedTuple

from orchestra.records import own_kind_only


def printable(text: str) -> str:
    """`text` for a one-line message on a terminal: control characters escaped (`\\n`,
    `\\x1b`), so that a newline cannot split the line and an escape sequence in a user's value
    (a service name, a file name) cannot recolour, move or erase anything."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class Location(NamedTuple):
    """A place in a config file; line and column are 1-based, None when unknown.

    A NamedTuple equal only to its own kind, as `Problem` (`orchestra/records.py`)."""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        text = self.file
        if self.line is not None:
            text += f":{self.line}"
            if self.column is not None:
                text += f":{self.column}"
        return text


class Problem(NamedTuple):
    """One thing wrong with the user's input."""

    location: Location
    field: str
    message: str

    def __str__(self) -> str:
        if self.field:
            return printable(f"{self.location}: {self.field}: {self.message}")
        return printable(f"{self.location}: {self.message}")


own_kind_only(Location, Problem)


def by_position(problem: Problem) -> tuple[str, int, int]:
    """Sort key: file, then line, then column."""
    where = problem.location
    return where.file, where.line or 0, where.column or 0


class OrchestraError(Exception):
    """Base of every error the CLI knows how to present without a traceback."""

    exit_code = 1


class ConfigError(OrchestraError):
    """The configuration (file, env file or flags) is invalid; nothing was started."""

    exit_code = 2

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def single(cls, file: str, message: str, *, line: int | None = None,
               column: int | None = None, field: str = "") -> "ConfigError":
        """Shorthand for an error with exactly one problem."""
        return cls([Problem(Location(file, line, column), field, message)])


class UsageError(OrchestraError):
    """The command line asks for something impossible (unknown service, bad flag value)."""

    exit_code = 2
