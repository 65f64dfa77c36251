"""What a cold start does not spend time on (docs/PERFORMANCE.md, "Analysis"): collections
while it imports and reads its config, and modules the run at hand does not need."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers.orch import PY, Orchestra, Project

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
