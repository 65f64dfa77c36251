"""The services of a scenario and the runners that run them: argv, version, discovery.

Each peer is invoked the way its users would invoke it on a Procfile; `RAW`
names the baseline, the same producers with no runner at all.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.config import BENCH, NOTES_FILE, PEERS, REPO

RAW = "raw"


@dataclass(frozen=True)
class Service:
    """One Procfile line: a producer's name and command line."""

    name: str
    argv: tuple[str, ...]


def producer_cmd() -> list[str]:
    exe = PEERS / "bin" / "producer"
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-S", str(BENCH / "scenarios" / "producer.py")]


def service(name: str, mode: str, *args: object) -> Service:
    """A producer command line: identical on every repeat (no per-run marker)."""
    return Service(name, (*producer_cmd(), mode, name, *map(str, args)))


def service_needle() -> bytes:
    """What every service's command line (or its `sh -c` wrapper's) contains."""
    return producer_cmd()[-1].encode()


@dataclass
class Runner:
    """How one peer is invoked; `argv` builds its command for a Procfile."""

    name: str
    argv: Callable[[Path, list[Service]], list[str]]
    version: str = "?"
    note: str = ""


def _honcho(procfile: Path, _svcs: list[Service]) -> list[str]:
    return [str(PEERS / "honcho" / "bin" / "honcho"), "-f", str(procfile), "start"]


def _foreman(procfile: Path, _svcs: list[Service]) -> list[str]:
    return [shutil.which("foreman") or "foreman", "start", "-f", str(procfile), "--no-color"]


def _nf(procfile: Path, _svcs: list[Service]) -> list[str]:
    return [str(PEERS / "node" / "node_modules" / ".bin" / "nf"), "start", "-j", str(procfile)]


def _concurrently(_procfile: Path, svcs: list[Service]) -> list[str]:
    # --kill-others / --kill-timeout give Procfile semantics: one exits, all stop;
    # stubborn services are SIGKILLed after 5 s like foreman's default timeout.
    names = ",".join(s.name for s in svcs)
    cmds = [shlex.join(s.argv) for s in svcs]
    return [
        str(PEERS / "node" / "node_modules" / ".bin" / "concurrently"),
        "--kill-others",
        "--kill-timeout",
        "5000",
        "--no-color",
        "-n",
        names,
        *cmds,
    ]


def orchestra_bin() -> str:
    return os.environ.get("ORCHESTRA_BIN") or str(REPO / ".venv" / "bin" / "orchestra")


def orchestra_version() -> str:
    """Package version (from the venv next to the binary) plus the git revision."""
    py = Path(orchestra_bin()).parent / "python"
    code = "import importlib.metadata as m; print(m.version('orchestra'))"
    version = tool_version([str(py), "-c", code]) if py.exists() else "?"
    rev = tool_version(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = tool_version(["git", "-C", str(REPO), "status", "--porcelain", "--", "orchestra"])
    return f"orchestra {version} (git {rev}{'+dirty' if dirty not in ('?', '') else ''})"


def _orchestra(procfile: Path, _svcs: list[Service]) -> list[str]:
    # -t 5: the 5 s stop timeout of the scenarios (foreman's default, concurrently's
    # --kill-timeout 5000).
    return [orchestra_bin(), "up", "-f", str(procfile), "--no-color", "-t", "5"]


def tool_version(argv: list[str]) -> str:
    try:
        out = subprocess.run(
            argv, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[-1].strip() if out.returncode == 0 and text else "?"


def _npm_version(pkg: str) -> str:
    try:
        meta = json.loads((PEERS / "node" / "node_modules" / pkg / "package.json").read_text())
        return str(meta["version"])
    except (OSError, ValueError, KeyError):
        return "?"


def discover_runners() -> tuple[list[Runner], dict[str, str]]:
    """Runners whose executable exists, plus a skip note for every missing one."""
    notes: dict[str, str] = {}
    with contextlib.suppress(OSError, ValueError):
        notes.update(json.loads(NOTES_FILE.read_text()))
    found: list[Runner] = []
    candidates: list[
        tuple[str, str | None, Callable[[Path, list[Service]], list[str]], Callable[[], str]]
    ] = [
        (
            "honcho",
            str(PEERS / "honcho" / "bin" / "honcho"),
            _honcho,
            lambda: tool_version([str(PEERS / "honcho" / "bin" / "honcho"), "--version"]),
        ),
        (
            "foreman",
            shutil.which("foreman"),
            _foreman,
            lambda: "ruby-foreman " + tool_version(["foreman", "version"]),
        ),
        (
            "nf",
            str(PEERS / "node" / "node_modules" / ".bin" / "nf"),
            _nf,
            lambda: "foreman (npm) " + _npm_version("foreman"),
        ),
        (
            "concurrently",
            str(PEERS / "node" / "node_modules" / ".bin" / "concurrently"),
            _concurrently,
            lambda: "concurrently " + _npm_version("concurrently"),
        ),
        ("orchestra", orchestra_bin(), _orchestra, orchestra_version),
    ]
    for name, exe, build, version in candidates:
        if exe and os.access(exe, os.X_OK):
            found.append(Runner(name, build, version()))
        else:
            notes.setdefault(name, f"not installed ({exe or 'not on PATH'})")
    return found, notes
