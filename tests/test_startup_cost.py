"""What a cold start does not spend time on (docs/PERFORMANCE.md, "Analysis"): collections
while it imports and reads its config, and modules the run at hand does not need."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from helpers.orch import PY, Orchestra, Project

from orchestra.output.style import PALETTE, RESET, SYSTEM_STYLE, colour_for

#: Runs orchestra as the console script does, reporting on stderr whether the garbage
#: collector ran while the config was read and when the stack began to run.
COLLECTOR_PROBE = """
import gc, sys
from orchestra import launch
from orchestra.config import loader
from orchestra.runtime import orchestrator

def say(where):
    sys.stderr.write(f"collector {where}: {'on' if gc.isenabled() else 'off'}\\n")

load_spec = loader.load_spec
def reading(options):
    say("while reading the config")
    return load_spec(options)
loader.load_spec = reading
import orchestra.cli.up, orchestra.cli.run
orchestra.cli.up.load_spec = orchestra.cli.run.load_spec = reading

run = orchestrator.Orchestrator.run
async def running(self):
    say("when the stack runs")
    return await run(self)
orchestrator.Orchestrator.run = running
sys.argv = ["orchestra", *sys.argv[1:]]
launch.main()
"""


@pytest.fixture
def started() -> Iterator[list[Orchestra]]:
    runs: list[Orchestra] = []
    yield runs
    for orch in runs:
        orch.close()


@pytest.mark.parametrize("command", [["up"], ["run", "--with", "web", "--", "true"]])
def test_the_collector_is_paused_while_starting_and_runs_with_the_stack(
        project: Project, started: list[Orchestra], command: list[str]) -> None:
    project.procfile("web: echo hi\n")
    orch = Orchestra([PY, "-c", COLLECTOR_PROBE, *command, "--no-color"], project.root,
                     project.env())
    started.append(orch)
    result = orch.wait(20)
    assert result.rc == 0, result.dump()
    said = result.err.decode()
    assert "collector while reading the config: off" in said, result.dump()
    assert "collector when the stack runs: on" in said, result.dump()


def _imported_modules(project: Project, *args: str) -> set[str]:
    """Every module (full dotted name) that `orchestra up --no-color ARGS` imports."""
    result = subprocess.run([PY, "-X", "importtime", "-m", "orchestra", "up", "--no-color",
                             *args], cwd=project.root, env=project.env(), capture_output=True,
                            timeout=30, check=False)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    return {line.rsplit("|", 1)[1].strip() for line in result.stderr.decode().splitlines()
            if line.startswith("import time:") and "|" in line}


#: Not needed to start and show a plain Procfile's services.
NOT_FOR_A_PLAIN_RUN = {"colorama", "ctypes"}


def test_a_plain_procfile_run_imports_only_what_it_uses(project: Project) -> None:
    project.procfile("web: echo hi\n")
    imported = _imported_modules(project)
    assert "asyncio" in imported   # the premise: the names below would be seen if imported
    assert imported & NOT_FOR_A_PLAIN_RUN == set()


def test_the_colours_are_the_terminal_palette() -> None:
    """A name's colour must not change between versions: the same SGR codes, in the same
    order, as when they were colorama's."""
    codes = (36, 33, 32, 35, 34, 31, 96, 93, 92, 95, 94, 91)
    assert [f"\x1b[{code}m" for code in codes] == list(PALETTE)
    assert SYSTEM_STYLE == "\x1b[1m\x1b[37m"
    assert RESET == "\x1b[0m"
    assert colour_for("web") == "\x1b[31m"   # as it always was
