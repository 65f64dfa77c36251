"""Exit codes and the end of a run: real-time signals, --exit-code-from, Ctrl-C during a
failure's clean-up, and stopping while a dependent waits."""

from __future__ import annotations

import re
import signal
import time

import pytest
from helpers.orch import Project, py, wait_no_leftovers

# A service that exits with rc 3 on its own, leaving a member of its process group that
# ignores SIGTERM: orchestra's clean-up of the group then takes `stop_timeout` seconds.
FAILS_LEAVING_STUBBORN_CHILD = """
import subprocess, sys, time
subprocess.Popen(["sh", "-c", "trap '' TERM; sleep 4"])
time.sleep(0.2)
print("exiting with 3", flush=True)
sys.exit(3)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGRTMIN"), reason="no real-time signals here")
def test_service_killed_by_realtime_signal_does_not_hang_orchestra(project: Project) -> None:
    """A service killed by a real-time signal (SIGRTMIN+6) is reported as failed with
    128+N, like any killed service, and orchestra still stops everything and exits."""
    rt = int(signal.SIGRTMIN) + 6
    project.yaml({
        "rt": {"command": py(f"""
            import os, time
            time.sleep(0.3)
            os.kill(os.getpid(), {rt})
        """)},
        "other": {"command": ["sleep", "30"]},
    })
    result = project.run("--no-timestamps", "--no-color", timeout=10)
    assert result.rc == 128 + rt, result.dump()
    assert "Traceback" not in result.err.decode(errors="replace"), result.dump()
    assert not wait_no_leftovers(project.mark, 3.0)


def test_exit_code_from_is_not_zero_when_interrupted_before_the_service_ran(
        project: Project) -> None:
    """`up --exit-code-from tests` stopped by SIGTERM before `tests` has started exits 143
    and never starts `tests`, so a cancelled CI job (timeout) does not report success."""
    project.yaml({
        "db": {"command": ["sleep", "30"],
               "readiness": {"exec": ["false"], "interval": 0.2, "start_period": 60}},
        "tests": {"command": ["echo", "tests ran"],
                  "depends_on": {"db": {"condition": "ready"}}},
    })
    orch = project.start("--no-timestamps", "--no-color", "--exit-code-from", "tests")
    orch.wait_for(r"^system +\| db: not ready", 10)
    orch.send(signal.SIGTERM)
    result = orch.wait(15)
    assert "tests ran" not in result.text, result.dump()
    assert result.rc == 143, result.dump()
    assert not wait_no_leftovers(project.mark, 3.0)


def test_exit_code_from_with_replicas_uses_the_instance_that_ended(project: Project) -> None:
    """With `--exit-code-from web` and 2 replicas, orchestra exits with the code of the
    instance that ended on its own (web.1's 0), not that of web.2, which orchestra stopped."""
    project.yaml({"web": {
        "command": ["sh", "-c", 'if [ "$PS" = web.1 ]; then sleep 0.3; exit 0; fi; '
                                "exec sleep 30"],
        "replicas": 2}})
    result = project.run("--no-timestamps", "--no-color", "--exit-code-from", "web",
                         timeout=15)
    assert "web.1: exited rc=0" in result.text, result.dump()
    assert result.rc == 0, result.dump()


def test_ctrl_c_while_a_failed_service_is_cleaned_up_keeps_its_failure(
        project: Project) -> None:
    """A service that exits 3 on its own keeps its failure when Ctrl-C arrives while its
    process group is still being emptied: it is not sent SIGTERM again, and orchestra exits 3,
    the code of the first service that failed on its own."""
    project.yaml({
        "a": {"command": py(FAILS_LEAVING_STUBBORN_CHILD), "stop_timeout": 2},
        "b": {"command": ["sleep", "30"]},
    })
    orch = project.start("--no-timestamps", "--no-color", "--output", "text")
    orch.wait_for(r"^a +\| exiting with 3$", 10)
    time.sleep(0.5)   # a has exited; orchestra waits (up to 2 s) for its stubborn child
    orch.send(signal.SIGINT)
    result = orch.wait(15)
    assert not re.search(r"^system +\| a: sending SIGTERM", result.text, re.M), result.dump()
    assert result.rc == 3, result.dump()
    assert not wait_no_leftovers(project.mark, 3.0)


def test_stopping_while_a_dependent_waits_prints_no_runtime_warning(project: Project) -> None:
    """Ctrl-C while `web` waits for `db` to be ready exits 130 with a clean stderr: no
    "coroutine ... was never awaited" RuntimeWarning."""
    project.yaml({
        "db": {"command": ["sleep", "30"],
               "readiness": {"exec": ["false"], "interval": 0.2, "start_period": 60}},
        "web": {"command": ["sleep", "30"], "depends_on": {"db": {"condition": "ready"}}},
    })
    orch = project.start("--no-timestamps", "--no-color")
    orch.wait_for(r"^system +\| db: not ready", 10)
    orch.send(signal.SIGINT)
    result = orch.wait(15)
    assert result.rc == 130, result.dump()
    assert "never awaited" not in result.err.decode(errors="replace"), result.dump()
