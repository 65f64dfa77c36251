"""The ways orchestra starts: the console script in a project with an orchestra.py of its own,
`run --with=db`, and symlinked release and service folders followed at every run."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from helpers.cli import CONSOLE, TEXT
from helpers.cli import run_orchestra as orchestra
from helpers.orch import PY, Orchestra, Project


@pytest.fixture
def cli(project: Project) -> Iterator[list[Orchestra]]:
    started: list[Orchestra] = []
    yield started
    for orch in started:
        orch.close()


def test_run_with_equals_form_runs_the_command_once(
        project: Project, cli: list[Orchestra]) -> None:
    """`orchestra run --with=db -- CMD` (the `--with=db` form click accepts) runs the command
    once and exits 0, just as `--with db` does."""
    project.yaml({"db": {"command": ["sleep", "30"]}})
    result = orchestra(project, cli, ["run", "--with=db", *TEXT, "--", "echo", "command ran"],
                       timeout=15)
    assert result.rc == 0, result.dump()
    assert "command ran" in result.text, result.dump()


def test_a_project_file_named_orchestra_py_does_not_replace_orchestra(
        project: Project, cli: list[Orchestra]) -> None:
    """A project file named `orchestra.py` is never imported in place of orchestra: `up`, run
    from the console script in that project, runs orchestra itself."""
    project.procfile("web: echo hello from web\n")
    (project.root / "orchestra.py").write_text(
        "print('USER orchestra.py ran')\nraise SystemExit(7)\n")
    result = orchestra(project, cli, ["up", *TEXT], argv0=[CONSOLE])
    assert "USER orchestra.py ran" not in result.text, result.dump()
    assert result.rc == 0, result.dump()
    assert "hello from web" in result.text, result.dump()


def test_retargeting_a_symlinked_release_directory_is_followed(
        project: Project, cli: list[Orchestra]) -> None:
    """Retargeting a symlinked release directory (Capistrano-style `current -> releases/v1`,
    then `current -> releases/v2`): the next run uses v2, its
    directory and its `.env`, even though both Procfiles have the same content."""
    for release in ("v1", "v2"):
        folder = project.root / "releases" / release
        folder.mkdir(parents=True)
        (folder / "Procfile").write_text('web: echo "release=$REL"\n')
        (folder / ".env").write_text(f"REL={release}\n")
    current = project.root / "current"
    current.symlink_to("releases/v1")
    first = orchestra(project, cli, ["up", "-f", "current/Procfile", *TEXT])
    assert first.of("web.1") == ["release=v1"], first.dump()
    current.unlink()
    current.symlink_to("releases/v2")
    second = orchestra(project, cli, ["up", "-f", "current/Procfile", *TEXT])
    assert second.of("web.1") == ["release=v2"], second.dump()


def test_retargeting_a_symlinked_service_dir_is_followed(
        project: Project, cli: list[Orchestra]) -> None:
    """Retargeting a symlinked service dir (`dir: ./svc` with `svc -> s1`, then `svc -> s2`):
    the next run starts the service in s2."""
    for name in ("s1", "s2"):
        (project.root / name).mkdir()
    link = project.root / "svc"
    link.symlink_to("s1")
    project.yaml({"web": {"dir": "./svc", "command": [PY, "-c", "import os; print(os.getcwd())"]}})
    first = orchestra(project, cli, ["up", *TEXT])
    assert first.of("web") == [str(project.root / "s1")], first.dump()
    link.unlink()
    link.symlink_to("s2")
    second = orchestra(project, cli, ["up", *TEXT])
    assert second.of("web") == [str(project.root / "s2")], second.dump()


def test_console_script_exists() -> None:
    """Guard for the tests above that run the console script."""
    assert os.access(CONSOLE, os.X_OK), CONSOLE


def test_a_soft_fd_limit_too_low_for_the_plan_is_raised(
        project: Project, cli: list[Orchestra]) -> None:
    """Each instance needs a few fds: with a soft RLIMIT_NOFILE of 128 and 60 services (~300
    fds), orchestra raises its soft limit towards the hard one before it spawns, and every
    service starts. Without the raise the spawns fail with EMFILE."""
    names = [f"s{index}" for index in range(60)]
    project.procfile("".join(f"{name}: echo up-{name}\n" for name in names))
    script = f'ulimit -Sn 128 && exec {PY} -m orchestra "$@"'
    result = orchestra(project, cli, ["up", *TEXT], argv0=("/bin/sh", "-c", script, "sh"),
                       timeout=60)
    assert result.rc == 0, result.dump()
    missing = [name for name in names if f"up-{name}" not in result.text]
    assert missing == [], result.dump()
