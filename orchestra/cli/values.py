"""Flag values checked and turned into the library's options, for both command-line parsers.

Typer-free, so that the quick path of `up` and `run` (`cli/quick.py`) shares every check and
message with the full CLI.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, TextIO

from orchestra.config.loader import LoadOptions
from orchestra.errors import OrchestraError, UsageError
from orchestra.output.options import OutputOptions, color_wanted
from orchestra.pathnames import clean, join

if TYPE_CHECKING:
    from orchestra.cli.run import RunRequest
    from orchestra.cli.up import UpRequest
    from orchestra.config.model import Spec


def load_options(files: Sequence[str], env: str | None, app_root: str | None) -> LoadOptions:
    """Where the project is: `-f` (once, or again for each layer), `-e A,B` and `-d`."""
    env_files = None
    if env is not None:
        names = [name.strip() for name in env.split(",")]
        if not all(names):
            # `-e ''` or `-e a,` would quietly mean "no .env" (or a shorter list): a variable
            # that expanded to nothing in a script, not a choice
            raise UsageError(f"-e/--env-file: an empty env file name in {env!r}; give the "
                             "path of each file")
        env_files = tuple(clean(name) for name in names)
    cwd = current_directory()
    paths = [clean(file) for file in files]
    return LoadOptions(file=paths[0] if paths else None, overrides=tuple(paths[1:]),
                       env_files=env_files, cwd=cwd,
                       app_root=join(cwd, app_root) if app_root else None)


def current_directory() -> str:
    """The working directory; one clear line, not a traceback, when it was deleted."""
    try:
        return os.getcwd()
    except FileNotFoundError:
        raise OrchestraError("the current directory no longer exists (was it deleted?); "
                             "cd to an existing one") from None


def unknown_name(option: str, name: str, known: Sequence[str]) -> UsageError:
    """The error for a service name an option does not know, with a did-you-mean."""
    import difflib  # only for the message

    hint = difflib.get_close_matches(name, known, n=1)
    return UsageError(f"{option}: unknown service '{name}'"
                      + (f" (did you mean '{hint[0]}'?)" if hint else ""))


def with_terminals(spec: Spec, given: Sequence[str]) -> Spec:
    """`--tty web`: web runs as if its config said `tty: true`; an unknown name is a usage
    error, before anything starts."""
    from dataclasses import replace

    names = {name for text in given for name in split_names(text)}
    for name in sorted(names):
        if name not in spec.names():
            raise unknown_name("--tty", name, spec.names())
    if not names:
        return spec
    return replace(spec, services=tuple(
        replace(s, tty=True, instances=tuple(replace(i, tty=True) for i in s.instances))
        if s.name in names else s for s in spec.services))


def split_names(text: str | None) -> list[str]:
    return [name.strip() for name in (text or "").split(",") if name.strip()]


PROFILES_VARIABLE = "ORCHESTRA_PROFILES"


def active_profiles(given: Sequence[str], environ: Mapping[str, str]) -> frozenset[str]:
    """`--profile a,b --profile c`; without any, `$ORCHESTRA_PROFILES` (commas or spaces)."""
    if given:
        return frozenset(name for text in given for name in split_names(text))
    return frozenset(environ.get(PROFILES_VARIABLE, "").replace(",", " ").split())


def output_options(request: UpRequest | RunRequest, *, quiet: frozenset[str],
                   stream: TextIO) -> OutputOptions:
    """Validate the presentation flags and decide colour from `stream` (where the lines go)
    and the environment."""
    if request.output not in ("text", "json"):
        raise UsageError(f"invalid --output '{request.output}' (expected text or json)")
    if request.max_line < 80:
        raise UsageError(f"--max-line {request.max_line} is too small (at least 80 bytes)")
    try:
        isatty = stream.isatty()
    except (OSError, ValueError):   # closed
        isatty = False
    return OutputOptions(
        prefix=not request.no_prefix, timestamps=not request.no_timestamps,
        color=color_wanted(isatty, os.environ, request.no_color),
        json=request.output == "json", quiet=quiet, max_line=request.max_line,
        terminal=isatty, raw=request.raw)


def check_timeout(timeout: float | None) -> None:
    if timeout is not None and not (math.isfinite(timeout) and timeout >= 0):
        raise UsageError(f"--timeout {timeout:g} must be a number of seconds >= 0")


def check_port(port: int | None) -> None:
    if port is not None and not 1 <= port <= 65535:
        raise UsageError(f"--port {port} is out of range 1-65535")
