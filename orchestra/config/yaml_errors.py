"""YAML parser errors as one-line problems with file:line:column.

ruamel's messages span lines, give character offsets, or (for a key past YAML's length limit)
name a symptom rather than the cause; these functions turn each into one clear line.
"""

from __future__ import annotations

from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.reader import ReaderError

from orchestra.config.yaml_budget import MAX_DEPTH
from orchestra.errors import ConfigError


def one_line(text: str) -> str:
    """The CLI prints one line per problem; a parser message spanning lines would break that."""
    return " ".join(text.split())


def reader_error(exc: ReaderError, text: str, file: str) -> ConfigError:
    """A character YAML forbids (NUL, most control characters), at its line and column.

    ruamel's own message spans two lines and gives a character offset, not a position.
    """
    position = exc.position if isinstance(exc.position, int) else 0
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    character = exc.character
    shown = f"U+{character:04X}" if isinstance(character, int) else repr(character)
    return ConfigError.single(file, f"invalid YAML: character {shown} is not allowed "
                                    f"({one_line(str(exc.reason))})", line=line, column=column)


#: YAML reads an implicit key (`key: value`, the way every config writes them) only up to
#: 1024 characters; beyond that, its colon is "not allowed here".
MAX_KEY = 1024


def long_key(exc: MarkedYAMLError, text: str, file: str) -> ConfigError | None:
    """The error for a key past YAML's length limit (typically an absurd service name), which
    ruamel reports as a misplaced colon; None when the error is something else."""
    mark = exc.problem_mark
    index = getattr(mark, "index", None)
    if mark is None or not isinstance(index, int) or text[index:index + 1] != ":":
        return None
    start = max(text.rfind(c, 0, index) for c in "\n{,") + 1
    key = text[start:index]
    length = len(key.strip().strip("\"'"))
    if length <= MAX_KEY:
        return None
    column = start + (len(key) - len(key.lstrip())) - (text.rfind("\n", 0, index) + 1) + 1
    return ConfigError.single(file, f"key too long: {length:,} characters (YAML allows at most "
                                    f"{MAX_KEY:,} in a key written as 'key: value'; a service "
                                    "name must be shorter)", line=mark.line + 1, column=column)


def yaml_error(exc: MarkedYAMLError, file: str) -> ConfigError:
    mark = exc.problem_mark or exc.context_mark
    if type(exc).__name__ == "MaxDepthExceededError":
        message = f"nesting deeper than {MAX_DEPTH} levels"
        if mark is None:
            return ConfigError.single(file, message)
        return ConfigError.single(file, message, line=mark.line + 1, column=mark.column + 1)
    problem = one_line(str(exc.problem or exc.context or "invalid YAML"))
    message = f"invalid YAML: {problem}"
    if exc.context and exc.problem:
        message += f" ({one_line(str(exc.context))}"
        if exc.context_mark is not None and mark is not exc.context_mark:
            message += f" at line {exc.context_mark.line + 1}"
        message += ")"
    if mark is None:
        return ConfigError.single(file, message)
    return ConfigError.single(file, message, line=mark.line + 1, column=mark.column + 1)
