"""The control plane: `up` in one process, `ps`, `logs` and `down` in others, over the socket."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.cli import TEXT, Cli
from helpers.orch import PY, Orchestra, Project, Result, alive, wait_gone, wait_until

from orchestra.control.paths import project_name, socket_path
from orchestra.control.peers import PEERS_CHECKED

TICK = [PY, "-c", "import sys, time\nwhile True:\n    print('tick', flush=True)\n"
        "    time.sleep(0.1)\n"]


@pytest.fixture
def cli(project: Project, runtime: Path) -> Iterator[Cli]:
    tool = Cli(project, {"XDG_RUNTIME_DIR": str(runtime)})
    yield tool
    tool.close()


def _running(cli: Cli, project: Project) -> Orchestra:
    project.yaml({"web": {"command": TICK}, "worker": {"command": TICK, "replicas": 2}})
    up = cli.start("up", *TEXT)
    up.wait_for(r"worker\.2 +\| tick")
    return up


def _socket(project: Project, runtime: Path) -> Path:
    return Path(socket_path(project_name(str(project.root)), {"XDG_RUNTIME_DIR": str(runtime)}))


def test_ps_logs_and_down_reach_the_running_stack(cli: Cli, project: Project) -> None:
    up = _running(cli, project)
    table = cli.run("ps")
    assert table.rc == 0, table.dump()
    assert [line.split()[:2] for line in table.lines[1:]] == [
        ["web", "running"], ["worker.1", "running"], ["worker.2", "running"]], table.dump()
    rows = json.loads(cli.run("ps", "--format", "json").out)
    assert {row["name"]: row["state"] for row in rows} == {
        "web": "running", "worker.1": "running", "worker.2": "running"}
    assert all(isinstance(row["pid"], int) and alive(row["pid"]) for row in rows)
    if sys.platform == "linux" and not os.path.isdir("/proc/self"):
        # psutil reads Linux's /proc: without it the usage is unknown, not made up
        assert all(row["rss_bytes"] is None for row in rows), rows
    else:
        assert all(row["rss_bytes"] > 0 for row in rows), rows

    logs = cli.run("logs", "worker.*", "--tail", "2", *TEXT)
    assert logs.rc == 0, logs.dump()
    assert logs.of("worker.1") == ["tick", "tick"] and logs.of("worker.2") == ["tick", "tick"]
    assert not logs.of("web"), logs.dump()

    unknown = cli.run("logs", "wbe")
    assert unknown.rc == 1 and b"no such service: wbe" in unknown.err, unknown.dump()

    down = cli.run("down")
    assert down.rc == 0, down.dump()
    result = up.wait(10)
    assert result.rc == 0, result.dump()
    assert "stopping all services: orchestra down" in result.text
    assert not wait_gone([row["pid"] for row in rows], 5)


def test_log_lines_bounds_what_logs_returns(cli: Cli, project: Project) -> None:
    project.yaml({"web": {"command": TICK}})
    up = cli.start("up", *TEXT, "--log-lines", "3")
    up.wait_for(r"(web +\| tick\n.*){5}", timeout=10)
    assert cli.run("logs", "web", *TEXT).of("web") == ["tick"] * 3
    assert cli.run("down").rc == 0
    assert up.wait(10).rc == 0
    assert cli.run("up", "--log-lines", "0").rc == 2


def test_logs_follow_ends_with_the_stack(cli: Cli, project: Project) -> None:
    up = _running(cli, project)
    follower = cli.start("logs", "-f", "web", *TEXT, "--tail", "0")
    follower.wait_for(r"web +\| tick")
    assert cli.run("down").rc == 0
    assert up.wait(10).rc == 0
    followed = follower.wait(10)
    assert followed.rc == 0 and set(followed.of("web")) == {"tick"}, followed.dump()


def test_without_a_running_stack_each_command_says_so(cli: Cli, project: Project) -> None:
    project.yaml({"web": {"command": TICK}})
    for command in (["ps"], ["logs"], ["down"]):
        result = cli.run(*command)
        assert result.rc == 1, result.dump()
        assert result.err.strip().splitlines() == [
            b"error: no running stack for this project (start it with `orchestra up`)"]


def test_a_second_up_of_a_running_project_is_refused(cli: Cli, project: Project) -> None:
    up = _running(cli, project)
    second = cli.run("up", *TEXT)
    assert second.rc == 1, second.dump()
    assert f"already running (orchestra pid {up.pid})".encode() in second.err, second.dump()
    assert "started" not in second.text
    assert cli.run("down").rc == 0


def test_run_with_beside_a_running_up_is_told_how_to_run_a_second_stack(
        cli: Cli, project: Project) -> None:
    """`up` in one terminal, `run --with web -- pytest` in another: refused (the project's
    socket is taken), with the way to run a second stack of it side by side."""
    up = _running(cli, project)
    refused = cli.run("run", "--with", "web", "--", "echo", "ran", merge_stderr=False)
    assert refused.rc == 1 and b"ran" not in refused.out, refused.dump()
    assert b"another --project-name" in refused.err, refused.dump()
    beside = cli.run("run", "--with", "web", "--project-name", "tests", "--", "echo", "ran",
                     merge_stderr=False)
    assert beside.rc == 0 and beside.out == b"ran\n", beside.dump()
    assert cli.run("down").rc == 0
    assert up.wait(10).rc == 0


def test_a_stale_socket_of_a_killed_up_is_replaced(cli: Cli, project: Project,
                                                   runtime: Path) -> None:
    up = _running(cli, project)
    path = _socket(project, runtime)
    assert path.exists()
    os.kill(up.pid, signal.SIGKILL)
    up.wait(10)
    assert path.exists()   # nothing removed it
    again = _running(cli, project)
    assert cli.run("ps").rc == 0
    assert cli.run("down").rc == 0
    assert again.wait(10).rc == 0


def test_bad_requests_get_errors_and_disturb_nothing(cli: Cli, project: Project,
                                                     runtime: Path) -> None:
    up = _running(cli, project)
    path = _socket(project, runtime)
    assert path.parent == runtime / "orchestra"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
    replies = []
    for payload in (b"nonsense\n", b'{"command": "explode"}\n', b'{"command": "ps", "tail": -1}\n',
                    b"[1]\n", b'{"command": "logs", "services": "web"}\n',
                    b"x" * 100_000 + b"\n"):
        with socket.socket(socket.AF_UNIX) as client:
            client.settimeout(10)
            client.connect(str(path))
            client.sendall(payload)
            replies.append(json.loads(client.makefile("rb").readline()))
    assert [reply["ok"] for reply in replies] == [False] * 6, replies
    assert "unknown command" in replies[1]["error"]
    assert "too long" in replies[5]["error"]
    assert cli.run("ps").rc == 0
    assert cli.run("down").rc == 0
    assert up.wait(10).rc == 0


SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.mark.skipif(os.getuid() != 0 or not os.access(SYSTEM_PYTHON, os.X_OK),
                    reason="needs root and a system python to run a client as another user")
@pytest.mark.skipif(not PEERS_CHECKED, reason="the platform names no peer (docs/CONTROL.md)")
def test_another_user_is_refused(project: Project, runtime: Path) -> None:
    """Even with the folder and socket opened up, a peer of another uid gets an error."""
    tool = Cli(project, {"XDG_RUNTIME_DIR": str(runtime)})
    try:
        up = _running(tool, project)
        path = _socket(project, runtime)
        for folder in (runtime, path.parent):
            os.chmod(folder, 0o711)    # others may pass through, not list
        os.chmod(path, 0o666)
        # the refusal comes before any request is read: nothing to send
        code = ("import socket, sys\ns = socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\n"
                "print(s.makefile().readline())")
        nobody = subprocess.run([SYSTEM_PYTHON, "-c", code, str(path)], capture_output=True,
                                text=True, timeout=10, user="nobody", cwd="/", check=False)
        assert nobody.returncode == 0, nobody.stderr
        reply = json.loads(nobody.stdout)
        assert reply == {"ok": False, "error": "permission denied: not the owner of this stack"}
        os.chmod(path.parent, 0o700)
        assert tool.run("down").rc == 0
        assert up.wait(10).rc == 0
    finally:
        tool.close()


# ------------------------------------------------------------------ up --detach


def _detached_project(project: Project, *, web_ready: bool) -> None:
    probe = "http://127.0.0.1:1/never" if not web_ready else "tick"
    readiness = {"http": probe, "interval": "50ms", "retries": 2, "start_period": 0} \
        if not web_ready else {"log": probe}
    project.yaml({
        "migrate": {"command": [PY, "-c", "print('migrated')"]},
        "web": {"command": TICK, "readiness": readiness,
                "depends_on": {"migrate": {"condition": "completed_successfully"}}},
        "worker": {"command": TICK}})


def test_detach_wait_returns_once_ready_and_down_leaves_nothing(
        cli: Cli, project: Project, tmp_path: Path) -> None:
    _detached_project(project, web_ready=True)
    logs = tmp_path / "logs"
    started = cli.run("up", "--detach", "--wait", "--log-dir", str(logs), timeout=30)
    assert started.rc == 0, started.dump()
    # migrate has completed: it is said so, not counted as ready
    assert b"2 instance(s) ready, 1 completed; logs in" in started.err, started.dump()
    rows = {row["name"]: row for row in json.loads(cli.run("ps", "--format", "json").out)}
    assert rows["migrate"]["state"] == "exited" and rows["migrate"]["exit_code"] == 0
    assert rows["web"]["state"] == "running" and rows["web"]["ready"] is True
    pids = [row["pid"] for row in rows.values() if row["pid"]]
    assert all(alive(pid) for pid in pids)
    for name in ("migrate", "web", "worker"):
        path = logs / f"{name}.log"
        assert oct(path.stat().st_mode & 0o777) == "0o600", path
    assert (logs / "migrate.log").read_text() == "migrated\n"
    assert cli.run("logs", "migrate", *TEXT).of("migrate") == ["migrated"]
    down = cli.run("down")
    assert down.rc == 0, down.dump()
    assert not wait_gone(pids, 5)
    # orchestra's own lines (which may quote values from the environment) stay off disk
    assert sorted(p.name for p in logs.iterdir()) == ["migrate.log", "web.log", "worker.log"]


def test_logs_after_a_detached_stack_ended_reads_its_log_files(
        cli: Cli, project: Project, tmp_path: Path) -> None:
    """Once a detached stack is gone, `logs` shows what its instances wrote to their files
    in the default log folder (found again from the project and $XDG_STATE_HOME) or in the
    `--log-dir` it is given, and says on stderr where it read them."""
    state = tmp_path / "state"
    project.yaml({
        "web": {"command": [PY, "-c", "import time\nfor i in range(4): print('web', i)\n"
                            "import sys; sys.stdout.flush(); time.sleep(60)"],
                "readiness": {"log": "web 3"}},
        "job": {"command": [PY, "-c", "print('job done')"], "replicas": 2}})
    env = {"XDG_STATE_HOME": str(state)}
    assert cli.run("up", "-D", "--wait", env=env, timeout=30).rc == 0
    assert cli.run("down", env=env).rc == 0
    folder = state / "orchestra" / project_name(project.root)
    ended = cli.run("logs", *TEXT, env=env)
    assert ended.rc == 0, ended.dump()
    assert ended.of("web") == ["web 0", "web 1", "web 2", "web 3"], ended.dump()
    assert ended.of("job.1") == ended.of("job.2") == ["job done"], ended.dump()
    assert f"the log files of the last detached one, in {folder}:".encode() in ended.err
    last = cli.run("logs", "web", "--tail", "1", *TEXT, env=env)
    assert last.of("web") == ["web 3"] and len(last.lines) == 1, last.dump()
    assert cli.run("logs", "job.*", *TEXT, env=env).of("job.2") == ["job done"]
    unknown = cli.run("logs", "wbe", env=env)
    assert unknown.rc == 1 and f"no log file for wbe in {folder}".encode() in unknown.err, \
        unknown.dump()
    moved = tmp_path / "kept"
    folder.rename(moved)
    nowhere = cli.run("logs", env=env)
    assert nowhere.rc == 1 and b"no running stack for this project" in nowhere.err
    kept = cli.run("logs", "--log-dir", str(moved), "web", *TEXT, env=env)
    assert kept.rc == 0 and kept.of("web")[-1] == "web 3", kept.dump()


def test_detach_wait_with_a_failing_check_says_why_and_stops(
        cli: Cli, project: Project, tmp_path: Path) -> None:
    _detached_project(project, web_ready=False)
    started = cli.run("up", "-D", "--wait", "--log-dir", str(tmp_path / "logs"), timeout=30)
    assert started.rc == 1, started.dump()
    assert b"web ended" in started.err and b"before it was ready" in started.err, \
        started.dump()
    assert cli.run("ps").rc == 1   # gone: the command returned only after the stack ended


@pytest.mark.parametrize(("code", "expected"), [(0, 0), (3, 1)])
def test_detach_wait_says_which_one_shots_completed(cli: Cli, project: Project,
                                                    tmp_path: Path, code: int,
                                                    expected: int) -> None:
    """`up -D --wait` with one-shots that others wait for: those that exited 0 are counted
    as completed, not as ready; one that exits non-zero fails the start (exit 1, the stack
    stopped), as in docker compose's `up --wait`."""
    project.yaml({
        "migrate": {"command": [PY, "-c", "print('migrated')"]},
        "report": {"command": [PY, "-c", f"import sys; sys.exit({code})"]},
        "web": {"command": TICK, "readiness": {"log": "tick"},
                "depends_on": {"migrate": {"condition": "completed_successfully"},
                               "report": {"condition": "completed_successfully"}}},
        "worker": {"command": TICK, "replicas": 2}})
    started = cli.run("up", "-D", "--wait", "--log-dir", str(tmp_path / "logs"), timeout=30)
    assert started.rc == expected, started.dump()
    if code == 0:
        assert b"3 instance(s) ready, 2 completed; logs in" in started.err, started.dump()
        assert cli.run("down").rc == 0
    else:
        assert b"report ended (exited rc=3)" in started.err, started.dump()
        assert cli.run("ps").rc == 1   # the stack stopped before the command returned


def test_a_log_dir_others_may_write_is_refused_and_left_alone(cli: Cli, project: Project,
                                                             tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    project.yaml({"web": {"command": TICK}})
    result = cli.run("up", "-D", "--log-dir", str(shared))
    assert result.rc == 1 and b"may be written by other users" in result.err, result.dump()
    assert oct(shared.stat().st_mode & 0o777) == "0o777"
    assert cli.run("ps").rc == 1


def test_logs_after_a_detached_stack_show_that_run_only(
        cli: Cli, project: Project, tmp_path: Path) -> None:
    """Each detached run starts its log files afresh: `logs` after it ended shows its lines,
    not those of earlier runs appended to them, nor the files of instances it did not have
    (web.2 and web.3 of a run with three replicas)."""
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    for run, replicas in (("first", 3), ("second", 1)):
        project.yaml({"web": {"command": [PY, "-c", f"print('{run}', flush=True)\n"
                                          "import time; time.sleep(60)"],
                              "replicas": replicas, "readiness": {"log": run}},
                      "other": {"command": [PY, "-c", f"print('{run} other')"]}})
        assert cli.run("up", "-D", "--wait", env=env, timeout=30).rc == 0
        assert cli.run("down", env=env).rc == 0
    ended = cli.run("logs", *TEXT, env=env)
    assert ended.rc == 0, ended.dump()
    assert ended.of("web") == ["second"], ended.dump()
    assert ended.of("other") == ["second other"], ended.dump()
    assert len(ended.lines) == 2, ended.dump()   # nothing of web.1, web.2, web.3


def test_wait_without_detach_is_a_usage_error(cli: Cli, project: Project) -> None:
    project.yaml({"web": {"command": TICK}})
    result = cli.run("up", "--wait")
    assert result.rc == 2 and b"--wait and --log-dir go with --detach" in result.err


@pytest.mark.parametrize("detach", ["-D", "--tui"])
def test_exit_code_from_with_detach_is_a_usage_error(cli: Cli, project: Project,
                                                    detach: str) -> None:
    """A detached stack's exit code reaches nobody: a CI job that asked for its tests' code
    must not get `up`'s 0 for "started" instead, with the stack left running."""
    project.yaml({"web": {"command": TICK}, "tests": {"command": ["sh", "-c", "exit 3"]}})
    result = cli.run("up", detach, "--exit-code-from", "tests")
    assert result.rc == 2, result.dump()
    assert b"--exit-code-from needs an attached" in result.err, result.dump()
    assert cli.run("ps").rc == 1   # nothing was started


# ------------------------------------------------------------------ restart and stop


def _pids(cli: Cli) -> dict[str, object]:
    return {row["name"]: row["pid"] for row in json.loads(cli.run("ps", "--format", "json").out)}


def test_restart_gives_a_new_pid_and_keeps_the_others(cli: Cli, project: Project) -> None:
    up = _running(cli, project)
    before = _pids(cli)
    restarted = cli.run("restart", "web")
    assert restarted.rc == 0 and b"restarted: web" in restarted.err, restarted.dump()
    up.wait_for(rf"web: started pid=(?!{before['web']})\d+")
    after = _pids(cli)
    assert after["web"] != before["web"] and isinstance(after["web"], int)
    assert after["worker.1"] == before["worker.1"] and after["worker.2"] == before["worker.2"]
    assert not alive(before["web"])  # type: ignore[arg-type]
    assert cli.run("down").rc == 0
    assert up.wait(10).rc == 0


def test_stop_leaves_the_stack_up_and_restart_brings_it_back(cli: Cli,
                                                             project: Project) -> None:
    up = _running(cli, project)
    stopped = cli.run("stop", "worker")    # a service: both instances
    assert stopped.rc == 0 and b"stopped: worker.1, worker.2" in stopped.err, stopped.dump()
    states = {row["name"]: row["state"] for row in json.loads(cli.run("ps", "--format",
                                                                       "json").out)}
    assert states == {"web": "running", "worker.1": "exited", "worker.2": "exited"}
    assert up.proc.poll() is None   # a stopped service is no failure and no end of the run
    assert cli.run("restart", "worker.2").rc == 0
    up.wait_for(r"worker\.2: starting again on request")
    up.wait_for(r"worker\.2: started pid=")
    assert cli.run("down").rc == 0
    result = up.wait(10)
    assert result.rc == 0, result.dump()


def test_ps_says_a_stopped_service_was_stopped_on_request(cli: Cli, project: Project) -> None:
    """Not `killed by SIGTERM (rc=143)`, which reads as a crash of the service."""
    up = _running(cli, project)
    assert cli.run("stop", "web").rc == 0
    rows = {row["name"]: row for row in json.loads(cli.run("ps", "--format", "json").out)}
    assert rows["web"]["state"] == "exited"
    assert rows["web"]["reason"] == "stopped on request (orchestra stop)", rows["web"]
    table = cli.run("ps").text
    assert "stopped on request" in table and "killed by SIGTERM" not in table, table
    assert cli.run("down").rc == 0
    assert up.wait(10).rc == 0


def test_stopping_every_service_keeps_the_stack_up_for_a_restart(cli: Cli,
                                                                 project: Project) -> None:
    up = _running(cli, project)
    assert cli.run("stop").rc == 0
    assert up.proc.poll() is None and cli.run("ps").rc == 0
    assert cli.run("restart", "web").rc == 0
    up.wait_for(r"web: starting again on request")
    assert cli.run("down").rc == 0
    result = up.wait(10)
    assert result.rc == 0, result.dump()


def test_down_of_a_stack_whose_services_all_stopped(cli: Cli, project: Project) -> None:
    up = _running(cli, project)
    assert cli.run("stop").rc == 0
    assert cli.run("down").rc == 0
    assert up.wait(10).rc == 0


STUBBORN = [PY, "-c", "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "print('stubborn', flush=True)\ntime.sleep(60)\n"]


@pytest.mark.parametrize("first", ["ctrl-c", "stop"])
def test_down_timeout_shortens_a_stop_under_way(cli: Cli, project: Project,
                                                first: str) -> None:
    """`down -t 1` overrides every stop timeout, also that of a service already stopping
    (by Ctrl-C, or `orchestra stop`) with its own 30 s: SIGKILL comes after 1 s, not 30."""
    project.yaml({"stubborn": {"command": STUBBORN, "stop_timeout": "30s"}})
    up = cli.start("up", *TEXT)
    up.wait_for(r"stubborn +\| stubborn")
    stop = None
    if first == "ctrl-c":
        up.send(signal.SIGINT)
    else:
        stop = cli.start("stop", "stubborn")
    up.wait_for(r"stubborn: sending SIGTERM")
    began = time.monotonic()
    down = cli.run("down", "-t", "1", timeout=15)
    took = time.monotonic() - began
    assert down.rc == 0, down.dump()
    result = up.wait(10)
    assert took < 10, f"down took {took:.1f} s\n{result.dump()}"
    result.index(r"stubborn: still running .* sending SIGKILL")
    assert result.rc == (130 if first == "ctrl-c" else 0), result.dump()
    if stop is not None:
        stop.wait(10)


#: Ends on its own a second after leaving a TERM-ignoring process in its group.
LEAVES_A_STUBBORN_CHILD = ("sh -c 'trap \"\" TERM; echo armored; exec sleep 60' & "
                           "sleep 1; exit 1")


@pytest.mark.parametrize("first", ["ctrl-c", "none"])
def test_down_timeout_shortens_the_clean_up_of_a_service_that_exited(
        cli: Cli, project: Project, first: str) -> None:
    """After a leader's own exit, clean-up sends what is left in its group the stop signal
    and waits the service's stop timeout (8 s) before SIGKILL: `down -t 0` (after Ctrl-C or
    alone) shortens that wait too, as it does a stop under way."""
    project.yaml({"crash": {"command": LEAVES_A_STUBBORN_CHILD, "stop_timeout": "8s"},
                  "web": {"command": TICK}})
    up = cli.start("up", *TEXT)
    up.wait_for(r"crash +\| armored")
    wait_until(lambda: _row(cli, "crash")["reason"] == "not ready: exited rc=1", 10,
               "crash's exit to be seen (its clean-up under way)")
    if first == "ctrl-c":
        up.send(signal.SIGINT)
        up.wait_for(r"web: stopped by SIGTERM")
    began = time.monotonic()
    down = cli.run("down", "-t", "0", timeout=15)
    assert down.rc == 0, down.dump()
    result = up.wait(15)
    took = time.monotonic() - began
    assert took < 5, f"down took {took:.1f} s\n{result.dump()}"
    assert result.index(r"crash: (1 process\(es\)|some processes were) left in its "
                        r"group after it exited; killed with SIGKILL") \
        < result.index(r"crash: exited rc=1"), result.dump()


def test_a_dependency_being_stopped_is_not_ready(cli: Cli, project: Project) -> None:
    """While db is being stopped (its stop signal sent, not yet gone), it is not ready: `ps`
    says so, and web, restarted meanwhile, waits for it instead of starting against a db
    that is going away."""
    project.yaml({"db": {"command": STUBBORN, "stop_timeout": "30s",
                         "readiness": {"log": "stubborn"}},
                  "web": {"command": TICK, "depends_on": {"db": {"condition": "ready"}}}})
    up = cli.start("up", *TEXT)
    up.wait_for(r"web +\| tick")
    assert cli.run("stop", "web").rc == 0
    stop = cli.start("stop", "db")
    up.wait_for(r"db: sending SIGTERM")
    db = _row(cli, "db")
    assert db["state"] == "stopping" and db["ready"] is False, db
    assert cli.run("restart", "web").rc == 0
    up.wait_for(r"web: starting again on request")
    assert _states(cli, up) == {"db": "stopping", "web": "pending"}
    assert cli.run("down", "-t", "0").rc == 0
    result = up.wait(10)
    assert result.rc == 0, result.dump()
    assert "web: skipped: orchestra is stopping" in result.text, result.dump()
    stop.wait(10)


def test_ps_of_a_running_service_not_yet_ready_by_its_log_line(cli: Cli,
                                                              project: Project) -> None:
    """A `log` check reports no attempts: until its line comes, `ps` says the service is
    running and not ready yet, not "not started"."""
    project.yaml({"db": {"command": TICK, "readiness": {"log": "never printed"}}})
    up = cli.start("up", *TEXT)
    up.wait_for(r"db +\| tick")
    db = _row(cli, "db")
    assert db["state"] == "running" and db["ready"] is False, db
    assert db["reason"] == "not ready: its readiness check has not passed yet", db
    assert cli.run("down").rc == 0
    assert up.wait(10).rc == 0


def test_restart_of_an_unknown_service_changes_nothing(cli: Cli, project: Project) -> None:
    up = _running(cli, project)
    before = _pids(cli)
    result = cli.run("restart", "web", "wbe")
    assert result.rc == 1 and b"no such service: wbe" in result.err, result.dump()
    assert _pids(cli) == before
    assert cli.run("down").rc == 0
    assert up.wait(10).rc == 0


def test_restart_of_a_service_whose_dependency_was_stopped_is_refused(
        cli: Cli, project: Project) -> None:
    """web needs db ready; db was stopped on request. Restarting web alone could only skip it,
    which used to end the whole stack with exit 1; it is refused, naming what to restart."""
    project.yaml({"db": {"command": TICK, "readiness": {"log": "tick"}},
                  "web": {"command": TICK, "depends_on": {"db": {"condition": "ready"}}}})
    up = cli.start("up", *TEXT)
    up.wait_for(r"web +\| tick")
    assert cli.run("stop", "db").rc == 0
    before = _pids(cli)
    refused = cli.run("restart", "web")
    assert refused.rc == 1, refused.dump()
    assert b"web needs db (condition ready)" in refused.err, refused.dump()
    assert b"orchestra restart db web" in refused.err, refused.dump()
    assert up.proc.poll() is None, up.output()
    assert _pids(cli) == before
    both = cli.run("restart", "db", "web")
    assert both.rc == 0, both.dump()
    up.wait_for(r"(?s)web: starting again on request.*web: started pid=")
    assert cli.run("down").rc == 0
    result = up.wait(10)
    assert result.rc == 0, result.dump()


def test_a_dependency_stopped_while_a_restart_waits_for_it_keeps_the_stack_up(
        cli: Cli, project: Project) -> None:
    """db is restarted with web and is not ready yet (its flag is gone) when it is stopped:
    web, waiting for it, can no longer start, but nothing failed; the stack stays up."""
    flag = project.root / "db-ready"
    flag.write_text("")
    project.yaml({"db": {"command": TICK,
                         "readiness": {"exec": "test -f db-ready", "interval": "100ms"}},
                  "web": {"command": TICK, "depends_on": {"db": {"condition": "ready"}}}})
    up = cli.start("up", *TEXT)
    up.wait_for(r"web +\| tick")
    flag.unlink()
    assert cli.run("restart", "db", "web").rc == 0
    up.wait_for(r"(?s)db: starting again on request.*db: started pid=")
    assert cli.run("stop", "db").rc == 0
    up.wait_for(r"db: stopped by SIGTERM")
    time.sleep(0.5)   # what web does once db has ended: no event to await when all is well
    assert up.proc.poll() is None, up.output()
    assert cli.run("down").rc == 0
    result = up.wait(10)
    assert result.rc == 0, result.dump()


def test_a_stack_ending_with_a_follower_prints_no_traceback(cli: Cli, project: Project) -> None:
    project.yaml({"a": {"command": [PY, "-c", "import time\nprint('hi', flush=True)\n"
                                         "time.sleep(60)"]}})
    up = cli.start("up", *TEXT)
    up.wait_for(r"a +\| hi")
    follower = cli.start("logs", "-f", *TEXT)
    follower.wait_for(r"a +\| hi")
    assert cli.run("down").rc == 0
    assert follower.wait(10).rc == 0
    result = up.wait(10)
    assert result.rc == 0, result.dump()
    assert b"Traceback" not in result.err, result.dump()


def test_stop_of_several_goes_in_waves_dependents_first(cli: Cli, project: Project) -> None:
    project.yaml({"db": {"command": TICK},
                  "web": {"command": TICK, "depends_on": ["db"]},
                  "other": {"command": TICK}})
    up = cli.start("up", *TEXT)
    up.wait_for(r"web +\| tick")
    assert cli.run("stop", "db", "web").rc == 0
    text = up.output()
    assert text.index("web: sending SIGTERM") < text.index("db: sending SIGTERM"), text
    assert "other: sending" not in text
    assert cli.run("down").rc == 0
    assert up.wait(10).rc == 0


def _states(cli: Cli, up: Orchestra) -> dict[str, str]:
    """Every instance's state, from `ps` (which fails, with the stack's output, if it is gone)."""
    table = cli.run("ps", "--format", "json")
    assert table.rc == 0, f"{table.dump()}\n--- up ---\n{up.output()}"
    return {row["name"]: row["state"] for row in json.loads(table.out)}


def _row(cli: Cli, name: str) -> dict[str, object]:
    rows = json.loads(cli.run("ps", "--format", "json").out)
    return next(row for row in rows if row["name"] == name)


def test_a_dependent_restarted_with_its_dependency_waits_showing_no_old_readiness(
        cli: Cli, project: Project) -> None:
    """`orchestra restart db web` while db takes its time to be ready again: web waits,
    pending, and `ps` shows the readiness of the run to come, not the stopped run's."""
    flag = project.root / "db-ready"
    flag.write_text("")
    project.yaml({"db": {"command": TICK,
                         "readiness": {"exec": "test -f db-ready", "interval": "100ms"}},
                  "web": {"command": TICK, "depends_on": {"db": {"condition": "ready"}}},
                  "other": {"command": TICK}})
    up = cli.start("up", *TEXT)
    up.wait_for(r"web +\| tick")
    flag.unlink()
    assert cli.run("restart", "db", "web").rc == 0
    up.wait_for(r"(?s)db: starting again on request.*db: started pid=")
    assert _states(cli, up) == {"db": "running", "web": "pending", "other": "running"}
    web = _row(cli, "web")
    assert web["reason"] == "not started" and web["exit_code"] is None, web
    flag.write_text("")
    up.wait_for(r"web: started pid=")
    assert cli.run("down").rc == 0
    result = up.wait(10)
    assert result.rc == 0, result.dump()
    assert "skipped" not in result.text, result.dump()


def test_stopping_a_dependency_leaves_its_waiting_dependent_waiting(
        cli: Cli, project: Project) -> None:
    """`orchestra stop db` while web still waits for db to be ready: web goes on waiting (and
    starts once db is restarted and ready); nothing fails, the stack stays up."""
    project.yaml({"db": {"command": TICK, "readiness": {"log": "never printed"}},
                  "web": {"command": TICK, "depends_on": {"db": {"condition": "ready"}}}})
    up = cli.start("up", *TEXT)
    up.wait_for(r"db +\| tick")
    assert cli.run("stop", "db").rc == 0
    up.wait_for(r"db: stopped by SIGTERM")
    assert _states(cli, up) == {"db": "exited", "web": "pending"}
    assert up.proc.poll() is None, up.output()
    assert cli.run("down").rc == 0
    result = up.wait(10)
    assert result.rc == 0, result.dump()
    assert "web: skipped: orchestra is stopping" in result.text, result.dump()


COUNTER = [PY, "-c", "import sys, time\nfor n in range(3000):\n    print(n, flush=True)\n"
           "    time.sleep(0.0005)\ntime.sleep(60)\n"]


def test_a_flood_of_requests_loses_no_line(cli: Cli, project: Project,
                                           runtime: Path) -> None:
    """Hundreds of requests (and clients hanging up mid-reply) while a service prints:
    every line still arrives, in order."""
    project.yaml({"counter": {"command": COUNTER}})
    up = cli.start("up", *TEXT)
    up.wait_for(r"counter +\| 10\n")
    path = _socket(project, runtime)
    for index in range(300):
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(str(path))
            client.sendall(b'{"command": "ps"}\n' if index % 3 else
                           b'{"command": "logs", "follow": true}\n')
            # every third one hangs up without reading its (long) reply
    up.wait_for(r"counter +\| 2999\n", timeout=30)
    assert cli.run("down").rc == 0
    result = up.wait(10)
    assert result.of("counter") == [str(n) for n in range(3000)], result.dump()[-2000:]


def test_a_detached_stack_keeps_its_auto_ports_reserved(cli: Cli, project: Project,
                                                         runtime: Path, tmp_path: Path) -> None:
    """The `up` that picked the ports exits once the stack is up; the reservation passes to
    the stack, so no other orchestra is given the same port while it runs."""
    project.yaml({"web": {"command": TICK, "port": "auto"}})
    assert cli.run("up", "-D", "--log-dir", str(tmp_path / "logs"), timeout=30).rc == 0
    reserved = (runtime / "orchestra-ports" / "ports").read_text().split()
    port, holder = int(reserved[0]), int(reserved[1])
    info = {row["name"]: row for row in json.loads(cli.run("ps", "--format", "json").out)}
    assert info["web"]["port"] == port
    assert alive(holder), "the reservation belongs to a process that is gone"
    assert cli.run("down").rc == 0
    assert (runtime / "orchestra-ports" / "ports").read_text() == ""


def test_ctrl_c_while_waiting_for_a_detached_start_stops_the_stack(
        cli: Cli, project: Project, tmp_path: Path) -> None:
    project.yaml({"slow": {"command": TICK,
                           "readiness": {"tcp": 1, "start_period": "60s"}}})
    waiting = cli.start("up", "-D", "--wait", "--log-dir", str(tmp_path / "logs"))
    wait_until(lambda: cli.run("ps").rc == 0, 15, "the detached stack to answer")
    pid = _pids(cli)["slow"]
    waiting.send(signal.SIGINT)
    result = waiting.wait(20)
    assert result.rc == 130, result.dump()
    assert b"interrupted: stopping the stack" in result.err, result.dump()
    assert cli.run("ps").rc == 1
    assert not alive(pid)  # type: ignore[arg-type]


def test_restart_takes_the_dependents_that_ask_for_it(cli: Cli, project: Project) -> None:
    """As compose does for an explicit restart: `depends_on: {db: {restart: true}}`."""
    project.yaml({"db": {"command": TICK},
                  "web": {"command": TICK, "depends_on": {"db": {"restart": True}}},
                  "worker": {"command": TICK, "depends_on": ["db"]}})
    up = cli.start("up", *TEXT)
    up.wait_for(r"web +\| tick")
    up.wait_for(r"worker +\| tick")
    before = _pids(cli)
    restarted = cli.run("restart", "db")
    assert restarted.rc == 0 and b"restarted: db, web" in restarted.err, restarted.dump()
    up.wait_for(rf"web: started pid=(?!{before['web']})\d+")
    after = _pids(cli)
    assert after["db"] != before["db"] and after["web"] != before["web"]
    assert after["worker"] == before["worker"]
    assert cli.run("down").rc == 0
    assert up.wait(10).rc == 0


@pytest.mark.parametrize("handles_term", [False, True])
def test_stopping_the_exit_code_from_service_ends_up_with_its_code(
        cli: Cli, project: Project, handles_term: bool) -> None:
    """`orchestra stop tests` while `up --exit-code-from tests` runs ends `up` as docker
    compose (>= 2.27) does: the whole stack stops and `up` exits with the code `tests` ended
    with (143 when SIGTERM killed it, its own code when it handles SIGTERM), not 0 at a later
    `orchestra down`."""
    on_term = ("import signal, sys\nsignal.signal(signal.SIGTERM, lambda *_: sys.exit(7))\n"
               if handles_term else "")
    project.yaml({"db": {"command": TICK},
                  "tests": {"command": [PY, "-c", on_term + "import time\n"
                                        "print('testing', flush=True)\ntime.sleep(60)"]}})
    up = cli.start("up", *TEXT, "--exit-code-from", "tests")
    up.wait_for(r"^tests +\| testing$")
    result = _stop_tests_and_end(cli, up, "tests stopped")
    assert result.rc == (7 if handles_term else 143), result.dump()


def test_stopping_the_exit_code_from_service_before_it_ran_ends_up_with_1(
        cli: Cli, project: Project) -> None:
    """`orchestra stop tests` while `tests` still waits for its dependency: it will never
    run, so `up --exit-code-from tests` cannot have the code it waits for. The stack stops
    and `up` exits 1 (as for a service skipped because a dependency ended), not 0 at a later
    `orchestra down`: a CI job whose tests never ran must not pass."""
    project.yaml({"db": {"command": TICK, "readiness": {"log": "never printed"}},
                  "tests": {"command": [PY, "-c", "print('testing')"],
                            "depends_on": {"db": {"condition": "ready"}}}})
    up = cli.start("up", *TEXT, "--exit-code-from", "tests")
    up.wait_for(r"^db +\| tick$")
    result = _stop_tests_and_end(cli, up, "tests stopped before it ran")
    assert result.rc == 1, result.dump()
    assert "testing" not in result.text, result.dump()


def _stop_tests_and_end(cli: Cli, up: Orchestra, reason: str) -> Result:
    """`orchestra stop tests`, then `up`'s end: the whole stack stopped for `reason`."""
    db_pid = _pids(cli)["db"]
    stopped = cli.run("stop", "tests")
    assert stopped.rc == 0, stopped.dump()
    result = up.wait(10)
    assert re.search(rf"^system +\| stopping all services: {reason} \(--exit-code-from\)$",
                     result.text, re.M), result.dump()
    assert not wait_gone([db_pid], 5)   # type: ignore[list-item]
    return result
