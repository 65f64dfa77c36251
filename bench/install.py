"""Installing the peers in isolation under bench/.peers, and building the producer.

A peer that cannot be installed is not an error: the reason is recorded in
bench/.peers/install-notes.json and the peer is skipped with that note.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from bench.config import BENCH, NOTES_FILE, PEER_SPECS, PEERS


def _sh(argv: list[str], cwd: Path | None = None, timeout: float = 900) -> tuple[bool, str]:
    print("  $ " + shlex.join(argv), flush=True)
    try:
        out = subprocess.run(
            argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, str(e)
    tail = (out.stderr or out.stdout).strip().splitlines()[-3:]
    return out.returncode == 0, " / ".join(tail)[:300]


def install_producer() -> str | None:
    exe, src = PEERS / "bin" / "producer", BENCH / "scenarios" / "producer.c"
    if exe.exists() and exe.stat().st_mtime >= src.stat().st_mtime:
        return None
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        return "no C compiler: using the slower Python producer"
    exe.parent.mkdir(parents=True, exist_ok=True)
    ok, msg = _sh([cc, "-O2", "-o", str(exe), str(src)])
    return None if ok else f"producer build failed ({msg}): using the Python producer"


def install_honcho() -> str | None:
    venv = PEERS / "honcho"
    req = PEER_SPECS / "requirements-honcho.txt"
    stamp = venv / ".installed"
    if stamp.exists() and stamp.read_bytes() == req.read_bytes():
        return None
    ok, msg = _sh([sys.executable, "-m", "venv", "--clear", str(venv)])
    if ok:
        ok, msg = _sh(
            [
                str(venv / "bin" / "pip"),
                "install",
                "-q",
                "--disable-pip-version-check",
                "-r",
                str(req),
            ]
        )
    if not ok:
        return f"pip install failed: {msg}"
    stamp.write_bytes(req.read_bytes())
    return None


def install_node() -> dict[str, str]:
    dest = PEERS / "node"
    lock = PEER_SPECS / "package-lock.json"
    if not shutil.which("npm"):
        return dict.fromkeys(("nf", "concurrently"), "npm not found")
    stamp = dest / ".installed"
    if stamp.exists() and stamp.read_bytes() == lock.read_bytes():
        return {}
    dest.mkdir(parents=True, exist_ok=True)
    for f in ("package.json", "package-lock.json"):
        shutil.copy(PEER_SPECS / f, dest / f)
    ok, msg = _sh(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=dest)
    if not ok:
        return dict.fromkeys(("nf", "concurrently"), f"npm ci failed: {msg}")
    stamp.write_bytes(lock.read_bytes())
    return {}


def install_foreman() -> str | None:
    if shutil.which("foreman"):
        return None
    if not shutil.which("apt-get") or os.geteuid() != 0:
        return "ruby-foreman not installed (needs root and apt-get: apt-get install ruby-foreman)"
    ok, msg = _sh(["apt-get", "install", "-y", "-q", "ruby-foreman"])
    if not ok:
        _sh(["apt-get", "update", "-q"])
        ok, msg = _sh(["apt-get", "install", "-y", "-q", "ruby-foreman"])
    return None if ok and shutil.which("foreman") else f"apt-get install ruby-foreman failed: {msg}"


def install_peers() -> None:
    """Install every peer in isolation under bench/.peers; record why any failed."""
    print("installing peers into bench/.peers", flush=True)
    PEERS.mkdir(parents=True, exist_ok=True)
    notes: dict[str, str] = {}
    if msg := install_producer():
        notes["producer"] = msg
    if msg := install_honcho():
        notes["honcho"] = msg
    notes.update(install_node())
    if msg := install_foreman():
        notes["foreman"] = msg
    NOTES_FILE.write_text(json.dumps(notes, indent=1))
    for k, v in notes.items():
        print(f"  note: {k}: {v}")
