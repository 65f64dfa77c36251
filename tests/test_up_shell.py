"""Shell strings run as `sh -c` would run them, with or without a shell in between.

A string with no shell syntax is exec'd without the shell (one process, no exec of /bin/sh);
everything a service can observe must still be what the shell would have given it. Lists are
exec'd as they are, but learn where they run from PWD just the same.
"""

from __future__ import annotations

import os
import shlex
import subprocess

import pytest
from helpers.orch import PY, Project

TEXT = ("--no-timestamps", "--no-color")
NEEDS_PROC_EXE = pytest.mark.skipif(not os.path.exists("/proc/self/exe"),
                                    reason="a service reads its program from Linux's /proc")

# What a service can see of how it was started: its program, its parent, its env and argv.
REPORT = """\
import os, sys
print("exe", os.path.realpath(f"/proc/{os.getpid()}/exe"))
print("parent", os.getppid())
print("PWD", os.environ.get("PWD"))
print("cwd", os.getcwd())
print("dotted", os.environ.get("A.B"))
print("argv", sys.argv[1:])
"""


def report(project: Project, command: object, **service: object) -> tuple[dict[str, str], int]:
    """Run one service that reports itself; its report and orchestra's pid."""
    (project.root / "report.py").write_text(REPORT)
    (project.root / "sub").mkdir(exist_ok=True)
    project.yaml({"svc": {"command": command, "env": {"A.B": "dotted"}, **service}})
    orch = project.start(*TEXT)
    result = orch.wait(15)
    assert result.rc == 0, result.dump()
    seen = dict(line.split(" ", 1) for line in result.of("svc"))
    assert len(seen) == 6, result.dump()
    return seen, orch.pid


@NEEDS_PROC_EXE
def test_plain_string_is_the_program_itself_with_the_shells_view(project: Project) -> None:
    seen, orchestra = report(project, f"{PY} ../report.py one two", dir="sub")
    assert seen["exe"] == os.path.realpath(PY), seen
    assert seen["parent"] == str(orchestra), f"a shell stayed in between: {seen}"
    assert seen["argv"] == "['one', 'two']", seen
    assert seen["dotted"] == "None", f"sh passes on only names it can hold: {seen}"
    assert seen["PWD"] == seen["cwd"] == str(project.root / "sub"), seen


def test_string_with_shell_syntax_runs_under_the_shell(project: Project) -> None:
    seen, _ = report(project, f"{PY} ../report.py one 'two three' $HOME", dir="sub")
    assert seen["argv"] == f"['one', 'two three', '{os.environ['HOME']}']", seen
    assert seen["dotted"] == "None", seen
    assert seen["PWD"] == seen["cwd"] == str(project.root / "sub"), seen


@NEEDS_PROC_EXE
def test_list_is_execd_as_given_and_told_where_it_runs(project: Project) -> None:
    seen, orchestra = report(project, [PY, "../report.py", "one two"], dir="sub")
    assert seen["exe"] == os.path.realpath(PY) and seen["parent"] == str(orchestra), seen
    assert seen["argv"] == "['one two']", seen
    assert seen["dotted"] == "dotted", f"no shell: every name is passed on: {seen}"
    assert seen["PWD"] == seen["cwd"] == str(project.root / "sub"), seen


def test_plain_string_naming_no_program_fails_as_the_shell_does(project: Project) -> None:
    project.procfile("web: no-such-program-anywhere --port 80\n")
    result = project.run(*TEXT)
    assert result.rc == 127, result.dump()
    assert any(line.endswith("no-such-program-anywhere: not found")
               for line in result.of("web.1")), result.dump()


@pytest.mark.parametrize("command", ["./job first", f"{shlex.quote(PY)} -c 'print(1)' ; ./job"])
def test_script_without_shebang_is_run_by_the_shell(project: Project, command: str) -> None:
    job = project.root / "job"
    job.write_text('echo "job ran: $0 $*"\n')
    job.chmod(0o755)
    project.procfile(f"web: {command}\n")
    result = project.run(*TEXT)
    assert result.rc == 0, result.dump()
    assert any(line.startswith("job ran: ./job") for line in result.of("web.1")), result.dump()


def test_the_program_found_is_the_one_the_shell_would_run(project: Project) -> None:
    """First executable file on PATH, even a script without `#!` (which exec itself would
    pass over for the next one)."""
    first, second = project.root / "first", project.root / "second"
    for folder, text in ((first, "echo from first\n"), (second, "#!/bin/sh\necho from second\n")):
        folder.mkdir()
        (folder / "tool").write_text(text)
        (folder / "tool").chmod(0o755)
    project.yaml({"svc": {"command": "tool",
                          "env": {"PATH": f"{first}:{second}:{os.environ['PATH']}"}}})
    result = project.run(*TEXT)
    assert result.rc == 0, result.dump()
    assert result.of("svc") == ["from first"], result.dump()


def test_a_builtin_that_is_also_a_program_is_the_shells(project: Project) -> None:
    """dash's echo prints `-e hi`; /bin/echo would print `hi`."""
    project.procfile("web: echo -e hi\n")
    shell_says = subprocess.run(["/bin/sh", "-c", "echo -e hi"], capture_output=True,
                                text=True, check=True).stdout.splitlines()
    result = project.run(*TEXT)
    assert result.rc == 0, result.dump()
    assert result.of("web.1") == shell_says, result.dump()
