"""Regression tests for defects found in review (runtime: signals, exit codes, races).

Each test runs the real `orchestra up` in a temporary project (fixtures from conftest.py);
every wait is bounded, and whatever carries the test's mark is killed at teardown.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time

from helpers.orch import PY, Project, py, wait_no_leftovers

# A service that exits with rc 3 on its own, leaving a member of its process group that
# ignores SIGTERM: orchestra's clean-up of the group then takes `stop_timeout` seconds.
FAILS_LEAVING_STUBBORN_CHILD = """
import subprocess, sys, time
subprocess.Popen(["sh", "-c", "trap '' TERM; sleep 4"])
time.sleep(0.2)
print("exiting with 3", flush=True)
sys.exit(3)
"""


def test_service_killed_by_realtime_signal_does_not_hang_orchestra(project: Project) -> None:
    """A service killed by SIGRTMIN+6 must end like any killed service (rc 128+N).

    Today `_on_pidfd` (runtime/service.py:251) calls `signal.Signals(40)`, which raises
    ValueError inside the loop callback: the exit is never recorded, and orchestra hangs for
    ever — not even Ctrl-C (stop waits for `done`) or a second Ctrl-C ends it.
    """
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
    """`up --exit-code-from tests` cancelled (CI timeout: SIGTERM) before `tests` started.

    `tests` is skipped, so it has no code; `_on_signal` (runtime/orchestrator.py:208) refuses
    to record 143 because --exit-code-from is set, and orchestra exits 0: a cancelled CI job
    reports success. Expected: 143 (interrupted), or at least non-zero.
    """
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
    """`--exit-code-from web` with 2 replicas: web.1 exits 0, which stops everything.

    `_on_final` (runtime/orchestrator.py:167) then also takes the code of web.2, which
    orchestra itself stopped with SIGTERM, and the run exits 143 instead of web.1's 0.
    """
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
    """A service exits 3 on its own; Ctrl-C arrives while its group is being emptied.

    `_terminate` (runtime/service.py:303) only checks `state is RUNNING`, which is still true
    during `_clean_up`: the service is moved to `stopping`, its group gets a second SIGTERM,
    `_end_run` reports "exited rc=3" as a normal stop (state exited, not failed), and
    orchestra exits 130 instead of 3 (the first service that failed on its own).
    """
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
    """Ctrl-C while `web` waits for `db` to be ready.

    `_await_dependencies` (runtime/service.py:167) creates `runner.changed()` coroutines
    before deciding to wait; when it returns early they are never awaited and Python prints
    "RuntimeWarning: coroutine 'ServiceRunner.changed' was never awaited" on stderr.
    """
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


def test_a_service_named_system_is_rejected(project: Project) -> None:
    """orchestra's own messages are the pseudo-service `system` (DESIGN §3.3).

    A service named `system` is accepted today, and its output is printed as
    `system | ...`, indistinguishable from orchestra's own lines (and `service: "system"` in
    JSON). The name should be refused like any invalid name (exit 2, naming the problem).
    """
    project.yaml({"system": {"command": ["echo", "hello from a service"]}})
    checked = subprocess.run([PY, "-m", "orchestra", "check"], cwd=project.root,
                             env=project.env(), capture_output=True, timeout=30)
    assert checked.returncode == 2, (checked.stdout, checked.stderr)
    assert b"system" in checked.stderr, checked.stderr
