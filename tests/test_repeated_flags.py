"""`-c`, `-q`, `-e` and `--with` given twice keep both values, as if written comma-separated.

`up -c web=2 -c worker=3` is how compose users write `--scale`, and how a script adds to a
formation it was handed; if the last one silently won, `web` would quietly run one instance
(and `-q a -q b` would show `a`, `-e a.env -e b.env` would drop `a.env`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.cli import TEXT, Cli
from helpers.orch import Project


@pytest.fixture
def cli(project: Project) -> Iterator[Cli]:
    runner = Cli(project)
    yield runner
    runner.close()


def _started(text: str) -> set[str]:
    return set(re.findall(r"(\S+): started", text))


def test_repeated_formations_are_merged(project: Project) -> None:
    project.procfile("web: echo web $PS\nworker: echo worker $PS\n")
    result = project.run("-c", "web=2", "-c", "worker=2", *TEXT)
    assert result.rc == 0, result.dump()
    assert _started(result.text) == {"web.1", "web.2", "worker.1", "worker.2"}, result.dump()


def test_a_later_formation_wins_for_the_same_process(project: Project) -> None:
    project.procfile("web: echo web $PS\n")
    result = project.run("-m", "web=3", "--formation", "web=1", *TEXT)
    assert result.rc == 0, result.dump()
    assert _started(result.text) == {"web.1"}, result.dump()


def test_repeated_quiet_hides_every_service_named(project: Project) -> None:
    project.procfile("web: echo from-web\nworker: echo from-worker\nclock: echo from-clock\n")
    result = project.run("-q", "web", "-q", "worker", *TEXT)
    assert result.rc == 0, result.dump()
    assert "from-clock" in result.text, result.dump()
    assert "from-web" not in result.text, result.dump()
    assert "from-worker" not in result.text, result.dump()


def test_repeated_env_files_are_all_read_later_ones_winning(project: Project) -> None:
    project.procfile("web: echo A=$A B=$B\n")
    (project.root / "one.env").write_text("A=1\nB=1\n")
    (project.root / "two.env").write_text("B=2\n")
    result = project.run("-e", "one.env", "-e", "two.env", *TEXT)
    assert result.rc == 0, result.dump()
    assert "A=1 B=2" in result.text, result.dump()


def test_env_files_typed_before_the_command_are_replaced_by_those_after_it(
        project: Project, cli: Cli) -> None:
    project.procfile("web: echo A=$A B=$B\n")
    (project.root / "one.env").write_text("A=1\n")
    (project.root / "two.env").write_text("B=2\n")
    (project.root / "three.env").write_text("A=3\n")
    result = cli.run("-e", "one.env", "-e", "two.env", "up", "-e", "three.env", *TEXT)
    assert result.rc == 0, result.dump()
    assert "A=3 B=" in result.text and "B=2" not in result.text, result.dump()
    before_only = cli.run("-e", "one.env", "-e", "two.env", "up", *TEXT)
    assert "A=1 B=2" in before_only.text, before_only.dump()


def test_repeated_with_starts_every_service_named(project: Project, cli: Cli) -> None:
    project.yaml({name: {"command": ["sleep", "30"]} for name in ("db", "cache", "web")})
    result = cli.run("run", "--with", "db", "--with", "cache", *TEXT, "--", "echo", "ran")
    assert result.rc == 0, result.dump()
    assert "ran" in result.text, result.dump()
    assert _started(result.text) == {"db", "cache"}, result.dump()


def test_export_keeps_repeated_formations(project: Project, cli: Cli, tmp_path: Path) -> None:
    project.procfile("web: echo web\nworker: echo worker\n")
    out = tmp_path / "out"
    result = cli.run("export", "systemd", str(out), "-a", "app", "-c", "web=2", "-c", "worker=2")
    assert result.rc == 0, result.dump()
    units = {p.name for p in out.glob("*.service")}
    assert units == {"app-web.1.service", "app-web.2.service", "app-worker.1.service",
                     "app-worker.2.service"}, units


def test_a_formation_that_leaves_nothing_to_start_says_so(project: Project) -> None:
    """`-c all=0` (or `-c web=0` for the only process) used to exit 0 without a word."""
    project.procfile("web: echo web\n")
    for formation in ("all=0", "web=0"):
        result = project.run("-c", formation, *TEXT)
        assert result.rc == 2, result.dump()
        assert b"nothing to start: -c/--formation gives every service 0 instances" in \
            result.err, result.dump()
