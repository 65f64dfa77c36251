"""Expand the compose spec's braced `${...}` forms in one config string (DESIGN §2.3).

Supported: `${VAR}`, `${VAR:-default}` (unset or empty), `${VAR-default}` (unset),
`${VAR:?message}` (error if unset or empty), `${VAR?message}` (error if unset), `$$` for `$`.
Defaults may contain further `${...}`. `${services.NAME.port}` and `${services.NAME.host}`
are names too: where a service listens (the caller puts them in the lookup).
A bare `$VAR` (or `$` before anything else) is left alone for the shell of a string command
to expand at run time, so `--bind :$PORT` works as in a Procfile.

A braced variable that is unset with no default is an error, not a silent empty string: an empty
`DATABASE_URL` is a worse failure to debug than a config error naming the variable.

The string is scanned once, left to right, so the error raised is the first one in the text.
A default that is not used is still checked for syntax but its variables are not looked up, so
`${A:-${B}}` needs `B` only when `A` is unset.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NoReturn

_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: A service's address; a service name may hold '-', which is why this is matched apart.
_SERVICE_FIELD = re.compile(r"services\.[A-Za-z0-9][A-Za-z0-9_-]*\.(port|host)(?=[}:?-])")
_NAME_RULE = "(expected letters, digits and '_', not starting with a digit)"
_OPERATORS = (":-", ":?", "-", "?")
# Deep enough for any real config, shallow enough that recursion can never overflow the stack.
_MAX_DEPTH = 32
_FORMS = "${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message} or ${NAME?message}"


class InterpolationError(Exception):
    """A `${...}` reference that is malformed or cannot be resolved.

    Carries no location: the caller knows the string's file:line and turns `message` into a Problem.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def interpolate(text: str, lookup: Mapping[str, str]) -> str:
    """Return `text` with its braced references expanded from `lookup`.

    Raises `InterpolationError` for the first malformed or unresolvable reference.
    """
    if "$" not in text:
        return text
    return _Scanner(text, lookup).expand(live=True, inside=False, depth=0)


class _Scanner:
    """A cursor over one string; `live=False` checks syntax without looking anything up."""

    def __init__(self, text: str, lookup: Mapping[str, str]) -> None:
        self.text = text
        self.lookup = lookup
        self.pos = 0

    def expand(self, *, live: bool, inside: bool, depth: int) -> str:
        """Expand up to the end of the text, or (`inside` a default) up to an unconsumed `}`."""
        text = self.text
        out: list[str] = []
        while self.pos < len(text):
            char = text[self.pos]
            if inside and char == "}":
                break
            if char == "$" and text.startswith("$$", self.pos):
                out.append("$")
                self.pos += 2
            elif char == "$" and text.startswith("${", self.pos):
                out.append(self.reference(live=live, depth=depth + 1))
            else:
                out.append(char)
                self.pos += 1
        return "".join(out)

    def reference(self, *, live: bool, depth: int) -> str:
        """Expand the `${...}` starting at the cursor and move past its closing brace."""
        start = self.pos
        if depth > _MAX_DEPTH:
            raise InterpolationError(f"references nested more than {_MAX_DEPTH} deep "
                                     f"at offset {start}")
        self.pos = start + 2
        service_field = _SERVICE_FIELD.match(self.text, self.pos)
        if service_field:
            self.pos = service_field.end()
        while self.pos < len(self.text) and self.text[self.pos] in _NAME_CHARS:
            self.pos += 1
        name = self.text[start + 2 : self.pos]
        operator = self._operator(start)
        if not (service_field or _NAME.fullmatch(name)):
            raise InterpolationError(
                f"invalid variable name '{name}' at offset {start} {_NAME_RULE}")
        self.pos += len(operator)
        argument_start = self.pos
        default_live = live and operator.endswith("-") and self._missing(name, operator)
        argument = self.expand(live=default_live, inside=True, depth=depth)
        if self.pos >= len(self.text):
            raise InterpolationError(f"unterminated '${{' at offset {start}")
        self.pos += 1  # the closing brace
        if not live:
            return ""
        if operator == "" and name not in self.lookup and service_field:
            service = name.split(".")[1]
            raise InterpolationError(f"'{name}': no service '{service}' with a port (a service "
                                     "has one with `port:`, or with -p)")
        if operator == "" and name not in self.lookup:
            raise InterpolationError(f"variable '{name}' is not set "
                                     f"(use ${{{name}:-default}} to give a default)")
        if not self._missing(name, operator):
            return self.lookup[name]
        if operator.endswith("-"):
            return argument
        self._fail_required(name, self.text[argument_start : self.pos - 1])

    def _operator(self, start: int) -> str:
        """The operator at the cursor ('' for a closing brace); anything else is an error."""
        if self.pos >= len(self.text):
            raise InterpolationError(f"unterminated '${{' at offset {start}")
        if self.text.startswith("}", self.pos):
            return ""
        for operator in _OPERATORS:
            if self.text.startswith(operator, self.pos):
                return operator
        end = self.text.find("}", start)
        shown = self.text[start : end + 1] if 0 <= end - start < 40 else self.text[start:][:40]
        raise InterpolationError(f"invalid reference '{shown}' at offset {start} "
                                 f"(expected {_FORMS})")

    def _missing(self, name: str, operator: str) -> bool:
        """Whether `operator` treats `name` as absent: unset, or also empty for ':-' and ':?'."""
        value = self.lookup.get(name)
        return value is None or (operator.startswith(":") and value == "")

    def _fail_required(self, name: str, message: str) -> NoReturn:
        """Raise for a `?`/`:?` reference; the message is quoted as written, not expanded."""
        if message:
            raise InterpolationError(f"variable '{name}' is required: {message}")
        state = "not set" if name not in self.lookup else "empty"
        raise InterpolationError(f"variable '{name}' is required but is {state}")
