"""Compiled invocations: the fast path must never run a stale decision."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from helpers.orch import base_env

from orchestra.codec import decode, encode
from orchestra.compiled import Invocation, cache_dir
from orchestra.config.loader import LoadOptions, load_spec
from orchestra.output.options import OutputOptions
from orchestra.plan import Selection, make_plan
from orchestra.runtime.settings import RunSettings


def up(cwd: Path, env: dict[str, str], *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "orchestra", "up", "--no-timestamps",
                             "--no-color", *args], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def entries(env: dict[str, str]) -> list[Path]:
    return sorted(cache_dir(env).glob("*.json"))


def test_second_run_uses_the_entry_and_changes_invalidate_it(tmp_path: Path, mark: str) -> None:
    env = base_env(mark, {"XDG_CACHE_HOME": str(tmp_path / "cache")})
    (tmp_path / "Procfile").write_text("a: echo first $GREETING\n")
    assert "a.1    | first" in up(tmp_path, env)
    [entry] = entries(env)
    written = entry.stat().st_mtime_ns
    assert "a.1    | first" in up(tmp_path, env)
    assert entry.stat().st_mtime_ns == written          # read, not rewritten
    (tmp_path / "Procfile").write_text("a: echo second $GREETING\n")
    assert "a.1    | second" in up(tmp_path, env)        # the Procfile changed
    (tmp_path / ".env").write_text("GREETING=hello\n")
    assert "a.1    | second hello" in up(tmp_path, env)  # a .env appeared
    (tmp_path / "orchestra.yaml").write_text(
        "services:\n  b:\n    command: echo from yaml\n")
    assert "b      | from yaml" in up(tmp_path, env)     # discovery now finds the YAML


def test_the_environment_is_part_of_the_key(tmp_path: Path, mark: str) -> None:
    (tmp_path / "Procfile").write_text("a: echo value=$VALUE\n")
    first = base_env(mark, {"XDG_CACHE_HOME": str(tmp_path / "cache"), "VALUE": "1"})
    assert "value=1" in up(tmp_path, first)
    assert "value=2" in up(tmp_path, {**first, "VALUE": "2"})


def test_cache_is_private(tmp_path: Path, mark: str) -> None:
    env = base_env(mark, {"XDG_CACHE_HOME": str(tmp_path / "cache")})
    (tmp_path / "Procfile").write_text("a: echo hi\n")
    up(tmp_path, env)
    assert stat.S_IMODE(os.stat(cache_dir(env)).st_mode) == 0o700
    for entry in entries(env):
        assert stat.S_IMODE(entry.stat().st_mode) == 0o600


def test_an_unusable_cache_only_costs_time(tmp_path: Path, mark: str) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    env = base_env(mark, {"XDG_CACHE_HOME": str(blocker)})
    (tmp_path / "Procfile").write_text("a: echo still runs\n")
    assert "still runs" in up(tmp_path, env)
    assert "still runs" in up(tmp_path, env)


def test_codec_round_trips_a_full_invocation(tmp_path: Path) -> None:
    (tmp_path / "orchestra.yaml").write_text("""
env: {A: "1"}
services:
  db:
    command: ["python3", "-c", "pass"]
    readiness: {tcp: "127.0.0.1:5432", interval: 500ms, retries: 3}
    stop_signal: SIGINT
    stop_timeout: 2s
  web:
    command: "serve --port $PORT"
    port: 8000
    replicas: 2
    env: {B: "2"}
    depends_on: {db: {condition: ready}}
    readiness: {http: "http://127.0.0.1:8000/"}
    liveness: {exec: "true", interval: 5s}
    restart: {policy: on-failure, max_restarts: 3, backoff: 200ms}
  logs:
    command: "tail -f x"
    readiness: {log: "ready \\\\d+"}
    namespace: tools
""")
    spec = load_spec(LoadOptions(cwd=tmp_path, environ={}))
    plan = make_plan(spec, Selection(), {})
    invocation = Invocation(plan, OutputOptions(json=True, quiet=frozenset({"db"})), True,
                            RunSettings(stop_timeout=3.0, exit_code_from="web"))
    assert decode(Invocation, encode(invocation)) == invocation


def test_a_change_to_orchestra_itself_invalidates_every_entry() -> None:
    """In a checkout the version stays the same while the code that makes plans changes."""
    import orchestra.plan
    from orchestra.compiled import cache_key

    source = Path(orchestra.plan.__file__)
    before = source.stat()
    key = cache_key(["up"], "/", {})
    try:
        os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
        assert cache_key(["up"], "/", {}) != key
    finally:
        os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert cache_key(["up"], "/", {}) == key
