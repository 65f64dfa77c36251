"""A misused command line is one line on stderr, exit 2, nothing started: as bad config is.

These go to typer (the quick parser hands over what it does not recognise), whose own
presentation is a boxed block under the usage; `cli/app.py` says them in one line instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.cli import Cli
from helpers.orch import Project


@pytest.fixture
def cli(project: Project) -> Iterator[Cli]:
    runner = Cli(project)
    yield runner
    runner.close()


@pytest.mark.parametrize(("args", "names"), [
    (["up", "--timeout", "abc"], "--timeout"),
    (["up", "--bogus"], "--bogus"),
    (["up", "-p", ""], "--port"),
    (["up", "-D", "--output", "json"], "--output json does nothing with --detach"),
    (["up", "--detach", "-q", "web"], "-q/--quiet does nothing with --detach"),
    (["up", "--tui", "--quiet", "web"], "-q/--quiet does nothing with --tui"),
    (["up", "-D", "--no-prefix"], "--no-prefix does nothing with --detach"),
    (["up", "--detach", "--no-timestamps"], "--no-timestamps does nothing with --detach"),
    (["up", "-D", "--raw"], "--raw does nothing with --detach"),
    (["up", "--tui", "--no-prefix"], "--no-prefix does nothing with --tui"),
    (["logs", "-n", "abc"], "--tail"),
    (["up", "-e", ""], "-e/--env-file: an empty env file name"),
    (["up", "--env-file=,"], "-e/--env-file: an empty env file name"),
    (["up", "-e", ".env", "-e", " "], "-e/--env-file: an empty env file name"),
    (["-e", "", "up"], "-e/--env-file: an empty env file name"),
    (["check", "-e", ""], "-e/--env-file: an empty env file name"),
    (["config", "--env", ".env,"], "-e/--env-file: an empty env file name"),
    (["config", "--bogus"], "--bogus"),
    (["export"], "FORMAT"),
    (["bogus"], "bogus"),
])
def test_a_misused_flag_is_one_line_and_exit_2(project: Project, cli: Cli, tmp_path: Path,
                                               args: list[str], names: str) -> None:
    started = tmp_path / "started"
    project.procfile(f"web: touch {started}; sleep 30\n")
    result = cli.run(*args, merge_stderr=False)
    assert result.rc == 2, result.dump()
    lines = result.err.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.dump()
    assert names in lines[0], result.dump()
    assert "Traceback" not in lines[0] and "╭" not in lines[0], result.dump()
    assert not started.exists(), result.dump()


def test_help_is_still_shown_and_exits_0(project: Project, cli: Cli) -> None:
    project.procfile("web: true\n")
    result = cli.run("up", "--help")
    assert result.rc == 0, result.dump()
    assert "Usage:" in result.text and "--timeout" in result.text, result.dump()
