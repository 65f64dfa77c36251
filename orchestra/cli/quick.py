"""Read the command line of `up`, `start` and `run` without the CLI framework.

Importing typer (with click, rich and pydantic) costs more than the whole runtime, and `up` is
what users start in every new terminal and CI job. So these command lines are read here, from
the table in `cli/flags.py`, with click's rules for what they contain: `-fX`, `-f X`,
`--file X`, `--file=X`, the last of a repeated option wins (a `multiple` one keeps every
value, a `joined` one joins them with commas, and for both those after the command replace
those before it), `--` ends the options, `up`'s
services may stand between options, and `run`'s options end at the command. Anything this
parser does not recognise (`--help`, an unknown or misspelt option, a missing value, a number
it does not read the same way click would) makes `parse` return None, and the typer CLI then
reads the whole command line and reports what is wrong, exactly as it always has.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, TypeGuard

from orchestra.cli import flags
from orchestra.cli.flags import Flag
from orchestra.pathnames import clean

if TYPE_CHECKING:   # each imported for its own command only: `up` needs nothing of `run`
    from orchestra.cli.run import RunRequest
    from orchestra.cli.up import UpRequest



def _digits(text: str) -> bool:
    """One or more of 0-9 (`isdigit` alone also takes other scripts' digits)."""
    return text.isascii() and text.isdigit()


def _unsigned(text: str) -> str:
    return text[1:] if text[:1] in ("+", "-") else text


def _is_int(text: str) -> bool:
    """`[+-]?[0-9]+`, what click reads as an int; tested without compiling a regular
    expression, which would cost every start ~0.1 ms."""
    return _digits(_unsigned(text))


def _is_float(text: str) -> bool:
    """`[+-]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)`: digits with an optional fraction, or a bare
    fraction."""
    whole, dot, fraction = _unsigned(text).partition(".")
    if not dot:
        return _digits(whole)
    return (_digits(whole) and (not fraction or _digits(fraction))) or (
        not whole and _digits(fraction))


class _Unrecognised(Exception):
    """Something for typer to read and report."""


def parse(argv: Sequence[str], environ: Mapping[str, str]) -> UpRequest | RunRequest | None:
    """The request `argv` (without the program name) makes, or None: leave it to typer."""
    try:
        return _parse(list(argv), environ)
    except _Unrecognised:
        return None


def is_run(request: UpRequest | RunRequest) -> TypeGuard[RunRequest]:
    """Whether `parse` read a `run`; told without importing the module of the other command."""
    return type(request).__name__ == "RunRequest"


def _parse(argv: list[str], environ: Mapping[str, str]) -> UpRequest | RunRequest:
    position = 0
    before: dict[str, object] = {}
    values: dict[str, object] = {}
    while position < len(argv) and argv[position].startswith("-"):   # before the command
        position = _option(argv, position, _names(flags.GLOBAL), before)
    if position == len(argv) or argv[position] not in ("up", "start", "run"):
        raise _Unrecognised
    is_run = argv[position] == "run"
    table = _names(flags.RUN if is_run else flags.UP)
    position += 1
    words: list[str] = []
    while position < len(argv):
        arg = argv[position]
        if arg == "--":
            words.extend(argv[position + 1:])
            break
        if arg.startswith("-") and arg != "-":
            position = _option(argv, position, table, values)
        elif is_run:     # the command and its own arguments
            words.extend(argv[position:])
            break
        else:
            words.append(arg)
            position += 1
    values = {**before, **values}   # the command's own options win, as with typer
    for flag in (flags.RUN if is_run else flags.UP):   # as typer's `envvar=`
        if flag.envvar and flag.dest not in values and environ.get(flag.envvar):
            text = environ[flag.envvar]
            # click splits a list from the environment at the path separator
            values[flag.dest] = (tuple(_convert(flag, part) for part in text.split(os.pathsep))
                                 if flag.multiple else _convert(flag, text))
    if is_run:
        from orchestra.cli.run import RunRequest

        return RunRequest(command=tuple(words), **values)  # type: ignore[arg-type]
    from orchestra.cli.up import UpRequest

    return UpRequest(services=tuple(words), **values)  # type: ignore[arg-type]


def _names(table: Sequence[Flag]) -> dict[str, Flag]:
    return {name: flag for flag in table for name in flag.names}


def _option(argv: list[str], position: int, table: Mapping[str, Flag],
            values: dict[str, object]) -> int:
    """Read the option at `position` into `values`; the position after it."""
    arg = argv[position]
    if arg.startswith("--"):
        name, has_value, attached = arg.partition("=")
    else:
        name, attached = arg[:2], arg[2:]
        has_value = "=" if attached else ""
    flag = table.get(name)
    if flag is None:
        raise _Unrecognised
    if flag.kind == "flag":
        if has_value:
            raise _Unrecognised
        values[flag.dest] = True
        return position + 1
    if has_value:
        text, position = attached, position + 1
    elif position + 1 < len(argv):
        text, position = argv[position + 1], position + 2
    else:
        raise _Unrecognised
    if not text or (text.startswith("-") and not _is_float(text)):
        raise _Unrecognised   # click's own rules for such values are its to apply
    value = _convert(flag, text)
    if flag.joined:
        previous = values.get(flag.dest)
        values[flag.dest] = f"{previous},{value}" if isinstance(previous, str) else value
    elif flag.multiple:
        previous = values.get(flag.dest, ())
        values[flag.dest] = (*previous, value) if isinstance(previous, tuple) else (value,)
    else:
        values[flag.dest] = value
    return position


def _convert(flag: Flag, text: str) -> object:
    if flag.kind == "int":
        if not _is_int(text):
            raise _Unrecognised
        return int(text)
    if flag.kind == "float":
        if not _is_float(text):
            raise _Unrecognised
        return float(text)
    if flag.kind == "path":
        return clean(text)
    return text
