"""A project folder that cannot be looked into, named with -d, -f or $PROCFILE: a symbolic
link loop, or a name longer than the system allows. Finding the config and naming the project
ask the file system whether a file is there; such a folder gets one clear line and a non-zero
exit, never a traceback (pathlib's `exists()` raised for ENAMETOOLONG and `resolve()` for a
loop, where `os.path` answers "not there")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.cli import Cli, no_traceback
from helpers.orch import Project, Result

TOO_LONG = "n" * 300   # over NAME_MAX (255) for one path component


@pytest.fixture
def cli(project: Project) -> Iterator[Cli]:
    runner = Cli(project)
    yield runner
    runner.close()


@pytest.fixture
def loop(project: Project) -> Path:
    """`loop -> loop`, beside a plain Procfile."""
    project.procfile("web: echo started\n")
    (project.root / "loop").symlink_to("loop")
    return project.root / "loop"


def one_error(result: Result) -> str:
    """The single line on stderr, checked to be an `error:` line."""
    lines = result.err.decode(errors="replace").splitlines()
    assert no_traceback(result) and len(lines) == 1, result.dump()
    assert lines[0].startswith("error: "), result.dump()
    return lines[0]


def test_app_root_in_a_symlink_loop_is_one_config_error(loop: Path, cli: Cli) -> None:
    """`-d loop` with the Procfile given by absolute path: the .env looked for in the app
    root cannot be read, and says why; nothing starts."""
    result = cli.run("up", "-d", "loop", "-f", str(loop.parent / "Procfile"))
    assert result.rc == 2, result.dump()
    assert one_error(result) == (f"error: {loop}/.env: cannot read: Too many levels of "
                                 "symbolic links"), result.dump()
    assert "started" not in result.text, result.dump()


def test_procfile_through_a_symlink_loop_is_one_config_error(loop: Path, cli: Cli) -> None:
    for args, env in ((["check", "-f", "loop/Procfile"], {}),
                      (["check"], {"PROCFILE": "loop/Procfile"})):
        result = cli.run(*args, env=env)
        assert result.rc == 2, result.dump()
        assert "Too many levels of symbolic links" in one_error(result), result.dump()


@pytest.mark.parametrize("command", ["ps", "logs", "down"])
def test_control_commands_in_a_symlink_loop_find_no_stack(
        loop: Path, cli: Cli, command: str) -> None:
    """The project is named after the folder; one that cannot be resolved runs no stack."""
    result = cli.run(command, "-d", "loop")
    assert result.rc == 1, result.dump()
    assert one_error(result) == ("error: no running stack for this project (start it with "
                                 "`orchestra up`)"), result.dump()


def test_app_root_with_a_name_too_long_is_one_config_error(
        project: Project, cli: Cli) -> None:
    for command in (["up"], ["check"], ["export", "systemd", "out"]):
        result = cli.run(*command, "-d", TOO_LONG)
        assert result.rc == 2, result.dump()
        assert one_error(result) == (
            f"error: {project.root}/{TOO_LONG}: no orchestra.yaml, orchestra.yml or Procfile "
            "here (name one with -f FILE)"), result.dump()
    assert not (project.root / "out").exists()
    result = cli.run("ps", "-d", TOO_LONG)
    assert result.rc == 1, result.dump()
    assert "no running stack for this project" in one_error(result), result.dump()


@pytest.mark.parametrize("folder", ["loop", "loop/app", TOO_LONG])
def test_a_service_dir_that_cannot_be_looked_into_is_one_config_error(
        project: Project, cli: Cli, folder: str) -> None:
    """`dir:` through a symbolic link loop or with a name over NAME_MAX: the service's
    directory is reported at its line like any missing one; nothing starts."""
    (project.root / "loop").symlink_to("loop")
    project.yaml({"web": {"command": ["echo", "started"], "dir": folder}})
    for command in ("check", "up"):
        result = cli.run(command, *(["--no-color"] if command == "up" else []))
        assert result.rc == 2, result.dump()
        line = one_error(result)
        assert "services.web.dir: " in line and "does not exist" in line, result.dump()
        assert "started" not in result.text, result.dump()
