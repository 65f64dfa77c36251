"""Compiled invocations: `orchestra up` without re-reading, re-validating or re-planning.

Loading a config means YAML, a JSON Schema, interpolation and checks, and the CLI framework
that parses the flags; together they cost more start-up time and memory than the whole runtime.
So the first `orchestra up` compiles what it decided — the plan, the output options and the run
settings — into a cache entry, keyed by everything that could change the decision: the command
line, the working directory, the environment, and the content of every file and directory the
loader looked at (including those it found missing). The next identical invocation finds the
entry, checks those files, and runs straight away with a lean set of imports.

After writing the entry, the first run re-executes itself, so every run of orchestra — first or
not — supervises its services from the same small process.

Entries live in `$XDG_CACHE_HOME/orchestra` (default `~/.cache/orchestra`): a 0700 directory of
0600 JSON files, since a plan holds environment values. JSON, never pickle: reading a cache
entry cannot run code. A cache that cannot be written just means every run loads the config.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestra import __version__
from orchestra.codec import decode, encode
from orchestra.config.inputs import fingerprint
from orchestra.output.options import OutputOptions
from orchestra.plan import Plan
from orchestra.runtime.settings import RunSettings

FORMAT = 1
#: True in a process that a compiling run re-executed: it must not re-execute again.
reexecuted = False


@dataclass(frozen=True, slots=True)
class Invocation:
    """Everything `run_plan` needs; colour and `terminal` are decided again at each run (is
    stdout a TTY?)."""

    plan: Plan
    output: OutputOptions
    no_color: bool
    settings: RunSettings


def cache_dir(environ: Mapping[str, str]) -> Path:
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "orchestra"


def _code_stamp() -> list[tuple[str, int, int]]:
    """orchestra's own source files, by name, mtime and size.

    The version alone is not enough in a checkout: code that decides plans can change under
    the same version, and an entry it compiled must not outlive it. A directory walk of the
    package costs well under a millisecond.
    """
    stamp = []
    stack = [os.path.dirname(os.path.abspath(__file__))]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False) and entry.name != "__pycache__":
                    stack.append(entry.path)
                elif entry.name.endswith((".py", ".json")):
                    info = entry.stat()
                    stamp.append((entry.path, info.st_mtime_ns, info.st_size))
    return sorted(stamp)


def cache_key(argv: Sequence[str], cwd: str, environ: Mapping[str, str]) -> str:
    material = json.dumps([FORMAT, __version__, sys.executable, _code_stamp(), list(argv), cwd,
                           sorted(environ.items())], separators=(",", ":"))
    return hashlib.sha256(material.encode("utf-8", "surrogateescape")).hexdigest()


def _entry_path(argv: Sequence[str]) -> Path:
    environ = os.environ
    return cache_dir(environ) / f"{cache_key(argv, os.getcwd(), environ)}.json"


def store(argv: Sequence[str], invocation: Invocation, inputs: Sequence[Path]) -> bool:
    """Write the entry for this command line; False if it could not be written."""
    import tempfile  # only the compiling run needs it

    entry = {
        "format": FORMAT,
        "inputs": {str(p): fingerprint(p) for p in dict.fromkeys(inputs)},
        "invocation": encode(invocation),
    }
    try:
        path = _entry_path(argv)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".entry-")  # mode 0600
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(entry, handle, separators=(",", ":"))
        os.replace(temporary, path)
    except OSError:
        return False
    return True


def lookup(argv: Sequence[str]) -> Invocation | None:
    """The compiled invocation for this command line, if it exists and is still valid."""
    try:
        path = _entry_path(argv)
        if os.stat(path).st_uid != os.getuid():
            return None
        with open(path, encoding="utf-8") as handle:
            entry = json.load(handle)
        if entry.get("format") != FORMAT:
            return None
        for name, expected in entry["inputs"].items():
            if fingerprint(Path(name)) != expected:
                return None
        invocation: Invocation = decode(Invocation, entry["invocation"])
        return invocation
    except Exception:  # a cache entry of any shape must never break a run: compile again
        return None


MAX_ENTRIES = 200


def _prune(directory: Path) -> None:
    """Keep the cache small: drop the least recently written entries beyond MAX_ENTRIES."""
    entries = sorted(directory.glob("*.json"), key=lambda p: p.stat().st_mtime)
    for old in entries[:-MAX_ENTRIES]:
        with contextlib.suppress(OSError):
            old.unlink()


def run(invocation: Invocation, inputs: Sequence[Path]) -> int:
    """Compile, then re-execute into the lean fast path; run here if the cache is unusable."""
    argv = sys.argv[1:]
    if not reexecuted and store(argv, invocation, inputs) and lookup(argv) is not None:
        with contextlib.suppress(OSError):
            _prune(_entry_path(argv).parent)
        sys.stdout.flush()
        sys.stderr.flush()
        # -P: the project's folder must not shadow orchestra (a project file `orchestra.py`)
        os.environ["ORCHESTRA_REEXECUTED"] = "1"
        os.execv(sys.executable, [sys.executable, "-P", "-m", "orchestra", *argv])
    return execute(invocation)


def execute(invocation: Invocation) -> int:
    """Run a compiled invocation in this process."""
    from dataclasses import replace

    from orchestra.output.options import color_wanted
    from orchestra.runtime.run import output_stream, run_plan

    stream = output_stream(invocation.settings)
    output = replace(invocation.output, terminal=stream.isatty(),
                     color=color_wanted(stream.isatty(), os.environ, invocation.no_color))
    return run_plan(invocation.plan, output, invocation.settings, dict(os.environ))
