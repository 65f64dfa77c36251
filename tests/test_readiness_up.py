"""Readiness, liveness and restarts, end to end through `orchestra up` (DESIGN §2.4, §3.1).

Services are `python -c` programs that stamp `time.time()` into files at the moments that
matter (listening, flag created, READY sent, started), so order is asserted from what the
processes themselves recorded. No fixed ports: a free port is picked per test.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.orch import PROC, PY, Project, alive, wait_no_leftovers, wait_until
from helpers.readiness import TEXT, code, free_port, gaps, script, stamps

from orchestra.runtime.notify import SENDERS_KNOWN

#: A dependent that stamps its start time and ends.
STARTER = """
stamp(START)
print("dependent started", flush=True)
"""


def up(project: Project, path: Path, *args: str, timeout: float = 20.0,  # type: ignore[no-untyped-def]
       env: dict[str, str] | None = None):
    return project.run("-f", str(path), *TEXT, *args, timeout=timeout, env=env)


def line_at(result, pattern: str) -> int:  # type: ignore[no-untyped-def]
    return result.index(pattern)


# ---------------------------------------------------------------------------- gating


@pytest.mark.parametrize("condition", ["ready", "service_healthy"])
def test_tcp_readiness_gates_the_dependent(project: Project, tmp_path: Path,
                                           condition: str) -> None:
    port = free_port()
    spawned, listening, start = tmp_path / "spawned", tmp_path / "listening", tmp_path / "start"
    server = code("""
        import socket
        stamp(SPAWNED)
        time.sleep(0.8)
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", PORT))
        stamp(LISTENING)
        s.listen(16)
        print("listening", flush=True)
        wait_for(START)
    """, SPAWNED=spawned, LISTENING=listening, START=start, PORT=port)
    path = project.yaml({
        "db": {"command": server, "readiness": {"tcp": port, "interval": "100ms"}},
        "app": {"command": code(STARTER, START=start),
                "depends_on": {"db": {"condition": condition}}},
    })
    result = up(project, path)
    assert result.rc == 0, result.dump()
    [t_spawn], [t_listen], [t_start] = stamps(spawned), stamps(listening), stamps(start)
    assert t_listen - t_spawn >= 0.8
    assert t_start >= t_listen, result.dump()
    ready = line_at(result, rf"^system +\| db: ready: tcp 127\.0\.0\.1:{port} accepted after ")
    assert ready < line_at(result, r"^system +\| app: started pid=\d+$"), result.dump()
    assert line_at(result, r"db: not ready: tcp .*connection refused \(attempt 1\)") < ready


@pytest.mark.parametrize("final_status", [200, 302])
def test_http_readiness_waits_through_503(project: Project, tmp_path: Path,
                                          final_status: int) -> None:
    port = free_port()
    answered, ok_at, start = tmp_path / "answered", tmp_path / "ok_at", tmp_path / "start"
    server = code("""
        import http.server, threading
        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                count = len(open(ANSWERED).read().split()) if os.path.exists(ANSWERED) else 0
                status = 503 if count < 3 else FINAL
                if status != 503:
                    stamp(OK_AT)
                stamp(ANSWERED, status)
                self.send_response(status)
                if status == 302:
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()
            def log_message(self, *args):
                pass
        srv = http.server.HTTPServer(("127.0.0.1", PORT), H)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        wait_for(START)
    """, ANSWERED=answered, OK_AT=ok_at, START=start, PORT=port, FINAL=final_status)
    path = project.yaml({
        "web": {"command": server,
                "readiness": {"http": f"http://127.0.0.1:{port}/health", "interval": "100ms"}},
        "app": {"command": code(STARTER, START=start),
                "depends_on": {"web": {"condition": "ready"}}},
    })
    result = up(project, path)
    assert result.rc == 0, result.dump()
    statuses = [int(s) for s in stamps(answered)]
    assert statuses[:3] == [503, 503, 503], statuses
    assert statuses[3] == final_status
    assert stamps(start)[0] >= stamps(ok_at)[0], result.dump()
    assert re.search(rf"web: not ready: http http://127\.0\.0\.1:{port}/health: answered 503",
                     result.text), result.dump()
    assert line_at(result, rf"web: ready: http .* answered {final_status}") \
        < line_at(result, r"app: started"), result.dump()


def test_exec_readiness_waits_for_a_flag_file(project: Project, tmp_path: Path) -> None:
    flag, flagged, start = tmp_path / "flag", tmp_path / "flagged", tmp_path / "start"
    service = code("""
        time.sleep(0.6)
        stamp(FLAGGED)
        open(FLAG, "w").close()
        wait_for(START)
    """, FLAG=flag, FLAGGED=flagged, START=start)
    check = script(tmp_path, "check", "sys.exit(0 if os.path.exists(FLAG) else 1)", FLAG=flag)
    path = project.yaml({
        "svc": {"command": service, "readiness": {"exec": check, "interval": "100ms"}},
        "app": {"command": code(STARTER, START=start),
                "depends_on": {"svc": {"condition": "ready"}}},
    })
    result = up(project, path)
    assert result.rc == 0, result.dump()
    assert stamps(start)[0] >= stamps(flagged)[0], result.dump()
    assert re.search(r"svc: not ready: exec .*: exit 1 \(attempt 1\)", result.text), result.dump()
    assert line_at(result, r"svc: ready: exec .* exit 0") < line_at(result, r"app: started")


def test_exec_readiness_with_a_shell_string(project: Project, tmp_path: Path) -> None:
    flag, start = tmp_path / "flag", tmp_path / "start"
    service = code("""
        time.sleep(0.3)
        open(FLAG, "w").close()
        wait_for(START)
    """, FLAG=flag, START=start)
    path = project.yaml({
        "svc": {"command": service,
                "readiness": {"exec": f"test -f '{flag}'", "interval": "100ms"}},
        "app": {"command": code(STARTER, START=start),
                "depends_on": {"svc": {"condition": "ready"}}},
    })
    result = up(project, path)
    assert result.rc == 0, result.dump()
    assert result.of("app") == ["dependent started"]


def test_log_readiness_waits_for_the_line(project: Project, tmp_path: Path) -> None:
    said, start = tmp_path / "said", tmp_path / "start"
    service = code("""
        print("booting", flush=True)
        print("still booting: ready to serve soon", flush=True)
        time.sleep(0.6)
        stamp(SAID)
        print("ready to serve on 8123", flush=True)
        wait_for(START)
    """, SAID=said, START=start)
    path = project.yaml({
        "svc": {"command": service, "readiness": {"log": r"^ready to serve on \d+$"}},
        "app": {"command": code(STARTER, START=start),
                "depends_on": {"svc": {"condition": "ready"}}},
    })
    result = up(project, path)
    assert result.rc == 0, result.dump()
    assert stamps(start)[0] >= stamps(said)[0], result.dump()
    assert line_at(result, r"^svc +\| ready to serve on 8123$") \
        < line_at(result, r"^system +\| svc: ready: log ") \
        < line_at(result, r"app: started"), result.dump()


def test_log_readiness_counts_the_very_first_line_on_stderr(project: Project,
                                                           tmp_path: Path) -> None:
    start = tmp_path / "start"
    service = code("""
        sys.stderr.write("UP\\n"); sys.stderr.flush()
        wait_for(START)
    """, START=start)
    path = project.yaml({
        "svc": {"command": service, "readiness": {"log": "^UP$", "start_period": "5s"}},
        "app": {"command": code(STARTER, START=start),
                "depends_on": {"svc": {"condition": "ready"}}},
    })
    result = up(project, path)
    assert result.rc == 0, result.dump()
    assert result.of("app") == ["dependent started"]


def test_notify_readiness(project: Project, tmp_path: Path) -> None:
    info, ready_at, start = tmp_path / "info", tmp_path / "ready_at", tmp_path / "start"
    service = code("""
        import socket
        path = os.environ["NOTIFY_SOCKET"]
        folder = os.path.dirname(path)
        with open(INFO, "w") as f:
            f.write(path + "\\n" + oct(os.stat(folder).st_mode & 0o777) + "\\n")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.sendto(b"STATUS=warming up caches", path)
        time.sleep(0.6)
        stamp(READY_AT)
        s.sendto(b"READY=1\\nSTATUS=serving", path)
        wait_for(START)
    """, INFO=info, READY_AT=ready_at, START=start)
    path = project.yaml({
        "svc": {"command": service, "readiness": {"notify": True}},
        "app": {"command": code(STARTER, START=start),
                "depends_on": {"svc": {"condition": "ready"}}},
    })
    result = up(project, path)
    assert result.rc == 0, result.dump()
    socket_path, mode = info.read_text().split()
    assert mode == "0o700", mode
    assert os.path.isabs(socket_path)
    assert not os.path.exists(os.path.dirname(socket_path)), "runtime dir left behind"
    assert stamps(start)[0] >= stamps(ready_at)[0], result.dump()
    status = line_at(result, r"^system +\| svc: status: warming up caches$")
    ready = line_at(result, r"^system +\| svc: ready: notify ")
    assert status < ready < line_at(result, r"^system +\| app: started"), result.dump()
    assert re.search(r"^system +\| svc: status: serving$", result.text, re.M), result.dump()


@pytest.mark.parametrize("where", ["too long for a socket", "not writable"])
def test_notify_works_whatever_the_runtime_dir(project: Project, tmp_path: Path,
                                               where: str) -> None:
    if not where.startswith("too") and not os.path.exists("/proc/self"):
        pytest.skip("uses /proc as the folder nobody may write in")
    runtime = tmp_path / ("r" * 60) / ("u" * 60) if where.startswith("too") else Path("/proc")
    runtime.mkdir(parents=True, mode=0o700, exist_ok=True)
    service = code("""
        import socket
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.sendto(b"READY=1", os.environ["NOTIFY_SOCKET"])
        time.sleep(30)
    """)
    path = project.yaml({
        "svc": {"command": service, "readiness": {"notify": True, "start_period": "10s"}},
        "app": {"command": code("print('app ran')"),
                "depends_on": {"svc": {"condition": "ready"}}},
    })
    result = up(project, path, "--exit-code-from", "app", env={"XDG_RUNTIME_DIR": str(runtime)})
    assert result.rc == 0, result.dump()
    assert re.search(r"^system +\| svc: ready: notify ", result.text, re.M), result.dump()


def test_notify_ignores_a_relative_runtime_dir(project: Project) -> None:
    """A relative $XDG_RUNTIME_DIR is ignored, as for the control socket: the notify socket's
    folder is made in the temp folder, with an absolute path the watchdog can remove, never
    under the project."""
    (project.root / "rundir").mkdir(mode=0o700)
    service = code("""
        import socket
        print("socket at", os.environ["NOTIFY_SOCKET"], flush=True)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.sendto(b"READY=1", os.environ["NOTIFY_SOCKET"])
        time.sleep(30)
    """)
    path = project.yaml({
        "svc": {"command": service, "readiness": {"notify": True, "start_period": "10s"}},
        "app": {"command": code("print('app ran')"),
                "depends_on": {"svc": {"condition": "ready"}}},
    })
    result = up(project, path, "--exit-code-from", "app", env={"XDG_RUNTIME_DIR": "rundir"})
    assert result.rc == 0, result.dump()
    assert re.search(r"^svc +\| socket at /", result.text, re.M), result.dump()
    assert list((project.root / "rundir").iterdir()) == [], result.dump()


@pytest.mark.skipif(not SENDERS_KNOWN, reason="no sender credentials on datagrams here "
                    "(documented in docs/CONFIG.md)")
def test_notify_datagram_from_outside_the_group_is_ignored(project: Project,
                                                          tmp_path: Path) -> None:
    """A live process outside the service's group cannot declare it ready."""
    info, start = tmp_path / "info", tmp_path / "start"
    service = code("""
        import subprocess
        path = os.environ["NOTIFY_SOCKET"]
        # a grandchild in a session (and group) of its own, alive while it sends
        subprocess.Popen([sys.executable, "-c",
            "import os, socket, time; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM);"
            "s.sendto(b'READY=1\\\\nSTATUS=forged', os.environ['NOTIFY_SOCKET']);"
            "open(os.environ['INFO'], 'w').close(); time.sleep(1.5)"],
            start_new_session=True, env={**os.environ, "INFO": INFO})
        time.sleep(30)
    """, INFO=info)
    path = project.yaml({
        "svc": {"command": service, "readiness": {"notify": True, "start_period": "1.5s"}},
        "app": {"command": code(STARTER, START=start),
                "depends_on": {"svc": {"condition": "ready"}}},
    })
    result = up(project, path)
    assert info.exists(), result.dump()
    assert result.rc == 1, result.dump()
    assert not start.exists()
    assert "forged" not in result.text, result.dump()
    assert re.search(r"svc: .*notify.* not seen within 1\.5 s", result.text), result.dump()


@pytest.mark.skipif(not SENDERS_KNOWN, reason="no sender credentials on datagrams here "
                    "(documented in docs/CONFIG.md)")
def test_notify_datagram_from_a_sender_that_is_gone_is_ignored(project: Project,
                                                               tmp_path: Path) -> None:
    """A datagram whose sender has exited (and been reaped) by the time orchestra reads it
    cannot be placed in the service's group: it is ignored, however it was sent."""
    trigger = tmp_path / "trigger"
    service = code("""
        import socket
        print("pid", os.getpid(), flush=True)
        wait_for(TRIGGER, 30)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.sendto(b"STATUS=genuine\\nREADY=1", os.environ["NOTIFY_SOCKET"])
        time.sleep(30)
    """, TRIGGER=trigger)
    project.yaml({"svc": {"command": service, "readiness": {"notify": True}}})
    orch = project.start(*TEXT)
    pid = int(orch.wait_for(r"^svc +\| pid (\d+)$")[1])
    with open(f"{PROC}/{pid}/environ", "rb") as f:
        env = dict(v.split(b"=", 1) for v in f.read().split(b"\0") if b"=" in v)
    orch.send(signal.SIGSTOP)   # orchestra reads the datagram only once its sender is gone
    try:
        subprocess.run([PY, "-c", "import socket, sys; socket.socket(socket.AF_UNIX, "
                        "socket.SOCK_DGRAM).sendto(b'STATUS=spoofed\\nREADY=1', sys.argv[1])",
                        env[b"NOTIFY_SOCKET"]], check=True, timeout=10)
    finally:
        orch.send(signal.SIGCONT)
    trigger.touch()   # the real message comes after the spoofed one, on the same socket
    orch.wait_for(r"^system +\| svc: ready: notify ")
    orch.send(signal.SIGINT)
    result = orch.wait()
    assert "spoofed" not in result.text, result.dump()
    assert result.index(r"svc: status: genuine") < result.index(r"svc: ready: notify")


def test_systemd_notify_makes_a_service_ready(project: Project) -> None:
    """The real client: `systemd-notify --ready` waits (BARRIER=1) until orchestra has read
    its message and closed the descriptor it passed, so it is alive, and in the group."""
    if not os.path.exists("/usr/bin/systemd-notify"):
        pytest.skip("systemd-notify is not installed")
    project.yaml({
        "svc": {"command": "systemd-notify --ready --status=listening && exec sleep 30",
                "readiness": {"notify": True, "start_period": "10s"}},
        "app": {"command": code("print('app ran')"),
                "depends_on": {"svc": {"condition": "ready"}}},
    })
    result = project.run(*TEXT, "--exit-code-from", "app", timeout=20)
    assert result.rc == 0, result.dump()
    assert re.search(r"^system +\| svc: status: listening$", result.text, re.M), result.dump()
    assert re.search(r"^system +\| svc: ready: notify ", result.text, re.M), result.dump()


# ---------------------------------------------------------------------------- failing readiness


def test_readiness_timeout_skips_dependents(project: Project, tmp_path: Path) -> None:
    port = free_port()
    start = tmp_path / "start"
    path = project.yaml({
        "db": {"command": code("time.sleep(30)"),
               "readiness": {"tcp": port, "interval": "100ms", "start_period": "1s"}},
        "app": {"command": code(STARTER, START=start),
                "depends_on": {"db": {"condition": "ready"}}},
        "web": {"command": code(STARTER, START=start), "depends_on": ["app"]},
    })
    began = time.monotonic()
    result = up(project, path, timeout=20)
    took = time.monotonic() - began
    assert result.rc == 1, result.dump()
    assert not start.exists(), result.dump()
    assert took < 10, took
    assert re.search(rf"^system +\| db: not ready: tcp 127\.0\.0\.1:{port}: connection refused "
                     r"\(attempt \d+\); not ready within 1 s$", result.text, re.M), result.dump()
    assert re.search(r"^system +\| app: skipped: .*'db'.*ready", result.text, re.M), result.dump()
    assert re.search(r"^system +\| web: skipped: .*'app'", result.text, re.M), result.dump()
    assert not wait_no_leftovers(project.mark, 2.0)


def test_a_chain_of_skips_names_each_real_reason_in_the_json_events(project: Project) -> None:
    """db fails (its readiness check gives up); each waiting service down the chain is
    skipped because of the one before it, whatever order the event loop wakes them in (not
    "orchestra is stopping")."""
    path = project.yaml({
        "db": {"command": code("time.sleep(30)"),
               "readiness": {"tcp": free_port(), "interval": "100ms", "start_period": "300ms"}},
        "app": {"command": code("time.sleep(30)"),
                "depends_on": {"db": {"condition": "ready"}}},
        "web": {"command": code("time.sleep(30)"), "depends_on": ["app"],
                "readiness": {"log": "up"}},
        "worker": {"command": code("time.sleep(30)"),
                   "depends_on": {"web": {"condition": "ready"}, "app": {}}},
        "cron": {"command": code("time.sleep(30)"), "depends_on": ["worker"], "replicas": 2},
    })
    result = up(project, path, "--output", "json", timeout=20)
    assert result.rc == 1, result.dump()
    reasons = {event["service"]: event["reason"] for event in result.json()
               if event.get("event") == "skipped"}
    assert reasons == {
        "app": "dependency 'db' failed (needed: ready)",
        "web": "dependency 'app' skipped (needed: started)",
        "worker": "dependency 'web' skipped (needed: ready)",
        "cron.1": "dependency 'worker' skipped (needed: started)",
        "cron.2": "dependency 'worker' skipped (needed: started)",
    }, result.dump()


def test_dependency_exiting_0_before_ready_skips_dependents_and_exits_1(
        project: Project, tmp_path: Path) -> None:
    start = tmp_path / "start"
    path = project.yaml({
        "db": {"command": code("print('bye')"),
               "readiness": {"tcp": free_port(), "interval": "100ms", "start_period": "10s"}},
        "app": {"command": code(STARTER, START=start),
                "depends_on": {"db": {"condition": "ready"}}},
        "other": {"command": code("time.sleep(30)")},
    })
    result = up(project, path, timeout=20)
    assert result.rc == 1, result.dump()
    assert not start.exists(), result.dump()
    assert re.search(r"^system +\| app: skipped: dependency 'db' exited \(needed: ready\)$",
                     result.text, re.M), result.dump()
    assert re.search(r"^system +\| other: stopped by SIGTERM$", result.text, re.M), result.dump()
    assert not wait_no_leftovers(project.mark, 2.0)


def test_readiness_gets_all_of_its_start_period(project: Project, tmp_path: Path) -> None:
    """Ready at 3.3 s of a 3 s start_period, polled every 2 s: the attempt that begins once the
    period has run out (at ~4 s) still counts; no attempt is skipped for ending past it."""
    flag = tmp_path / "flag"
    path = project.yaml({
        "svc": {"command": code("time.sleep(3.3); open(FLAG, 'w').close(); time.sleep(30)",
                                FLAG=flag),
                "readiness": {"exec": ["test", "-e", str(flag)], "interval": "2s",
                              "start_period": "3s"}},
        "app": {"command": code(STARTER, START=tmp_path / "start"),
                "depends_on": {"svc": {"condition": "ready"}}},
    })
    result = up(project, path, "--exit-code-from", "app", timeout=20)
    assert result.rc == 0, result.dump()
    assert re.search(r"^system +\| svc: ready: exec .* after [4-9]\.\d s$", result.text, re.M), \
        result.dump()


def test_a_one_shot_that_was_ready_and_completed_satisfies_ready(project: Project,
                                                                  tmp_path: Path) -> None:
    """A migration with a readiness check: ready, then done with 0, is not "never ready"."""
    start = tmp_path / "start"
    path = project.yaml({
        "migrate": {"command": code("print('migrated', flush=True); time.sleep(0.3)"),
                    "readiness": {"log": "migrated"}},
        "app": {"command": code(STARTER, START=start),
                "depends_on": {"migrate": {"condition": "ready"}}},
    })
    result = up(project, path)
    assert result.rc == 0, result.dump()
    assert start.exists(), result.dump()


def test_no_restart_once_orchestra_is_stopping(project: Project, tmp_path: Path) -> None:
    """A service in backoff is not started again while its dependents are being stopped."""
    runs = tmp_path / "runs"
    path = project.yaml({
        "crashy": {"command": code("stamp(RUNS); time.sleep(0.2); sys.exit(1)", RUNS=runs),
                   "restart": {"policy": "always", "backoff": "300ms"}},
        "slow": {"command": code("""
                     import signal
                     signal.signal(signal.SIGTERM, lambda *_: (time.sleep(2), sys.exit(0)))
                     print("slow up", flush=True)
                     time.sleep(30)
                 """), "depends_on": ["crashy"]},
    })
    orch = project.start("-f", str(path), *TEXT)
    orch.wait_for(r"^system +\| crashy: restarting in", 10)
    orch.wait_for(r"^slow +\| slow up$", 10)
    orch.send(signal.SIGTERM)
    result = orch.wait(20)
    after = result.text[result.text.index("stopping all services"):]
    assert "crashy: started" not in after, result.dump()
    assert not wait_no_leftovers(project.mark, 2.0)


def test_a_stop_ends_the_restart_delay_at_once(project: Project) -> None:
    """A service waiting 30 s to restart is stopped at once, after the stop is announced,
    and its wait is no failure of the run."""
    path = project.yaml({
        "crashy": {"command": code("sys.exit(1)"),
                   "restart": {"policy": "always", "backoff": "30s"}},
    })
    orch = project.start("-f", str(path), *TEXT)
    orch.wait_for(r"^system +\| crashy: restarting in 30 s", 10)
    began = time.monotonic()
    orch.send(signal.SIGINT)
    result = orch.wait(10)
    assert time.monotonic() - began < 5, result.dump()
    assert result.rc == 130, result.dump()
    stopping = result.index(r"stopping all services: received SIGINT")
    assert result.index(r"crashy: stopped while waiting to restart") > stopping, result.dump()


def test_readiness_retries_bound_the_attempts(project: Project, tmp_path: Path) -> None:
    attempts = tmp_path / "attempts"
    check = script(tmp_path, "check", "stamp(ATTEMPTS); sys.exit(3)", ATTEMPTS=attempts)
    path = project.yaml({
        "svc": {"command": code("time.sleep(30)"),
                "readiness": {"exec": check, "interval": "50ms", "retries": 2,
                              "start_period": 0}},
    })
    result = up(project, path)
    assert result.rc == 1, result.dump()
    assert len(stamps(attempts)) == 3, result.dump()
    assert re.search(r"svc: not ready: exec .*: exit 3 \(attempt 3\); gave up after 3 attempts",
                     result.text), result.dump()


def test_readiness_retries_count_even_with_no_start_period(project: Project) -> None:
    """`start_period: 0` gives no grace period; it does not cut `retries` short."""
    path = project.yaml({
        "svc": {"command": code("time.sleep(30)"),
                "readiness": {"tcp": free_port(), "interval": "200ms", "retries": 3,
                              "start_period": "0s"}},
    })
    result = up(project, path)
    assert result.rc == 1, result.dump()
    assert re.search(r"svc: not ready: tcp .*: connection refused \(attempt 4\); gave up "
                     r"after 4 attempts", result.text), result.dump()


def test_readiness_failures_within_start_period_do_not_count(
        project: Project, tmp_path: Path) -> None:
    attempts = tmp_path / "attempts"
    check = script(tmp_path, "check", "stamp(ATTEMPTS); sys.exit(3)", ATTEMPTS=attempts)
    path = project.yaml({
        "svc": {"command": code("time.sleep(30)"),
                "readiness": {"exec": check, "interval": "100ms", "retries": 1,
                              "start_period": "800ms"}},
    })
    result = up(project, path)
    assert result.rc == 1, result.dump()
    times = stamps(attempts)
    assert len(times) >= 4, (times, result.dump())   # more than retries + 1
    assert times[-1] - times[0] >= 0.8, times       # the grace period was not cut short
    assert re.search(rf"gave up after {len(times)} attempts \(2 failed after the 0\.8 s "
                     r"start_period; retries: 1\)", result.text), result.dump()


def test_exec_check_runs_in_its_own_group_and_is_killed_on_timeout(
        project: Project, tmp_path: Path) -> None:
    info = tmp_path / "info"
    check = script(tmp_path, "check", """
        import subprocess
        child = subprocess.Popen(["sleep", "30"])
        with open(INFO, "w") as f:
            f.write(f"{os.getpid()} {os.getpgid(0)} {os.getppid()} {child.pid}\\n")
        time.sleep(30)
    """, INFO=info)
    path = project.yaml({
        "svc": {"command": code("time.sleep(30)"),
                "readiness": {"exec": check, "timeout": "300ms", "retries": 0,
                              "start_period": 0}},
    })
    began = time.monotonic()
    result = up(project, path)
    assert time.monotonic() - began < 8, result.dump()
    assert result.rc == 1, result.dump()
    pid, pgid, _, grandchild = map(int, info.read_text().split())
    assert pgid == pid, "the exec check is not the leader of its own process group"
    assert not alive(pid) and not alive(grandchild), "the timed-out check's group survived"
    assert re.search(r"svc: not ready: exec .*still running after 0\.3 s; killed",
                     result.text), result.dump()


def test_no_check_polls_faster_than_its_interval(project: Project, tmp_path: Path) -> None:
    attempts = tmp_path / "attempts"
    check = script(tmp_path, "check", "stamp(ATTEMPTS); sys.exit(1)", ATTEMPTS=attempts)
    path = project.yaml({
        "svc": {"command": code("time.sleep(30)"),
                "readiness": {"exec": check, "interval": "300ms", "start_period": "2s"}},
    })
    result = up(project, path)
    assert result.rc == 1, result.dump()
    times = stamps(attempts)
    assert 3 <= len(times) <= 2 / 0.3 + 2, times   # the last one begins at or after 2 s
    assert min(gaps(times)) >= 0.3 - 0.005, gaps(times)


def test_liveness_never_polls_faster_than_its_interval(project: Project,
                                                      tmp_path: Path) -> None:
    attempts = tmp_path / "attempts"
    check = script(tmp_path, "check", "stamp(ATTEMPTS)", ATTEMPTS=attempts)
    path = project.yaml({
        "svc": {"command": code("time.sleep(1.5)"),
                "liveness": {"exec": check, "interval": "200ms"}},
    })
    result = up(project, path)
    assert result.rc == 0, result.dump()
    times = stamps(attempts)
    assert 2 <= len(times) <= 1.5 / 0.2 + 1, times
    assert min(gaps(times)) >= 0.2 - 0.005, gaps(times)


# ---------------------------------------------------------------------------- restarts


def test_max_restarts_three_runs_exactly_four_times(project: Project, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    path = project.yaml({
        "long": {"command": code("time.sleep(30)")},
        "job": {"command": code("stamp(RUNS); sys.exit(7)", RUNS=runs),
                "restart": {"policy": "on-failure", "max_restarts": 3, "backoff": "50ms"}},
    })
    result = up(project, path)
    assert result.rc == 7, result.dump()
    assert len(stamps(runs)) == 4, result.dump()
    for k in (1, 2, 3):
        assert re.search(rf"^system +\| job: restarting in [\d.]+ s \(attempt {k} of 3\)$",
                         result.text, re.M), result.dump()
    assert "(attempt 4 of 3)" not in result.text
    assert re.search(r"^system +\| job: giving up: 3 restarts in a row "
                     r"\(max_restarts: 3\)$", result.text, re.M), result.dump()
    assert re.search(r"^system +\| long: sending SIGTERM", result.text, re.M), result.dump()


def test_backoff_gaps_grow(project: Project, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    path = project.yaml({
        "job": {"command": code("stamp(RUNS); sys.exit(1)", RUNS=runs),
                "restart": {"policy": "on-failure", "max_restarts": 3, "backoff": "150ms"}},
    })
    result = up(project, path)
    assert result.rc == 1, result.dump()
    g = gaps(stamps(runs))
    assert len(g) == 3, result.dump()
    assert g[0] >= 0.15 and g[1] >= 0.3 and g[2] >= 0.6, g
    assert g[0] < g[1] < g[2], g
    delays = re.findall(r"job: restarting in ([\d.]+) s", result.text)
    assert [float(d) for d in delays] == pytest.approx([0.15, 0.3, 0.6]), result.dump()


def test_always_restarts_a_service_that_exits_zero(project: Project, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    path = project.yaml({
        "tick": {"command": code("stamp(RUNS); print('tick', flush=True)", RUNS=runs),
                 "restart": {"policy": "always", "backoff": "50ms"}},
    })
    orch = project.start("-f", str(path), "--output", "json")
    wait_until(lambda: len(stamps(runs)) >= 3, 10, "three runs of an `always` service")
    orch.send(signal.SIGTERM)
    result = orch.wait(10)
    assert result.rc == 128 + signal.SIGTERM, result.dump()
    events = [e for e in result.json() if e.get("service") == "tick" and "event" in e]
    kinds = [e["event"] for e in events]
    assert "failed" not in kinds, kinds
    exited = [e for e in events if e["event"] == "exited" and e.get("rc") == 0]
    backoff = [e for e in events if e["event"] == "backoff"]
    assert len(exited) >= 2 and len(backoff) >= 2, kinds
    assert [e["attempt"] for e in backoff[:2]] == [1, 2], backoff
    assert kinds.count("running") == len(stamps(runs)), kinds
    assert not wait_no_leftovers(project.mark, 2.0)


def test_always_with_max_restarts_says_it_gives_up_after_a_clean_exit(
        project: Project, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    path = project.yaml({
        "tick": {"command": code("stamp(RUNS)", RUNS=runs),
                 "restart": {"policy": "always", "max_restarts": 1, "backoff": 0}},
    })
    result = up(project, path)
    assert result.rc == 0, result.dump()
    assert len(stamps(runs)) == 2, result.dump()
    assert re.search(r"^system +\| tick: restarting in 0 s \(attempt 1 of 1\)$",
                     result.text, re.M), result.dump()
    assert re.search(r"^system +\| tick: giving up: 1 restart in a row \(max_restarts: 1\)$",
                     result.text, re.M), result.dump()


def test_liveness_failure_restarts_the_service(project: Project, tmp_path: Path) -> None:
    runs, sick = tmp_path / "runs", tmp_path / "sick"
    service = code("""
        stamp(RUNS)
        if len(open(RUNS).read().split()) == 1:
            print("first run", flush=True)
            time.sleep(0.5)
            open(SICK, "w").close()
        elif os.path.exists(SICK):
            os.remove(SICK)
            print("healed", flush=True)
        time.sleep(30)
    """, RUNS=runs, SICK=sick)
    check = script(tmp_path, "check", "sys.exit(1 if os.path.exists(SICK) else 0)", SICK=sick)
    path = project.yaml({
        "web": {"command": service,
                "liveness": {"exec": check, "interval": "100ms", "retries": 1},
                "restart": {"policy": "on-failure", "max_restarts": 2, "backoff": "100ms"}},
    })
    orch = project.start("-f", str(path), *TEXT)
    orch.wait_for(r"^web +\| healed$", 15)
    time.sleep(0.6)   # several liveness intervals: the second run must stay up
    orch.send(signal.SIGTERM)
    result = orch.wait(10)
    assert result.rc == 128 + signal.SIGTERM, result.dump()
    assert len(stamps(runs)) == 2, result.dump()
    assert re.search(r"^system +\| web: liveness exec .* failed 2 times in a row: exit 1$",
                     result.text, re.M), result.dump()
    first_stop = line_at(result, r"^system +\| web: sending SIGTERM to process group \d+$")
    assert first_stop < line_at(result, r"web: restarting in 0\.1 s \(attempt 1 of 2\)")
    assert re.search(r"web: failed: liveness .*\(killed by SIGTERM, rc=143\)$", result.text,
                     re.M), result.dump()


def test_liveness_failure_without_restart_ends_orchestra_with_1(project: Project,
                                                               tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    service = code("""
        time.sleep(0.3)
        open(FLAG, "w").close()
        time.sleep(30)
    """, FLAG=flag)
    path = project.yaml({
        "long": {"command": code("time.sleep(30)")},
        "web": {"command": service,
                "liveness": {"exec": script(tmp_path, "check",
                                            "sys.exit(1 if os.path.exists(FLAG) else 0)",
                                            FLAG=flag), "interval": "100ms"}},
    })
    result = up(project, path)
    assert result.rc == 1, result.dump()
    assert re.search(r"web: liveness exec .* failed 3 times in a row", result.text), result.dump()
    assert "restarting in" not in result.text
    assert not wait_no_leftovers(project.mark, 2.0)


def test_heartbeat_printed_at_start_counts_for_the_first_interval(project: Project,
                                                                  tmp_path: Path) -> None:
    """One heartbeat, right at start: the first interval passes, the second fails (so the end
    comes ~4 s after the start, not ~2 s; the margin allows a slow start of the service)."""
    started = tmp_path / "started"
    path = project.yaml({
        "web": {"command": code("stamp(STARTED); print('tick', flush=True); time.sleep(30)",
                                STARTED=started),
                "liveness": {"log": "^tick", "interval": "2s", "retries": 0}},
    })
    result = up(project, path)
    ended = time.time()
    assert result.rc == 1, result.dump()
    assert re.search(r"web: liveness log .* failed 1 time in a row: no matching line$",
                     result.text, re.M), result.dump()
    [began] = stamps(started)
    assert ended - began >= 3.0, f"failed after {ended - began:.2f} s: the first tick was lost"


# ---------------------------------------------------------------------------- bad config


NEEDS_READINESS = (r"services\.app\.depends_on\.web\.condition: "
                   r"condition 'ready' needs a readiness check on 'web'")


@pytest.mark.parametrize(("service_yaml", "line", "message"), [
    ('    readiness: {tcp: 5432, http: "http://127.0.0.1:1/"}\n', 4,
     r"services\.web\.readiness: readiness needs exactly one of .*\(got tcp, http\)"),
    ('    readiness:\n      http: "ftp://example.com/"\n', 5,
     r"services\.web\.readiness\.http: invalid URL 'ftp://example\.com/'"),
    ('    readiness:\n      log: "([unclosed"\n', 5,
     r"services\.web\.readiness\.log: invalid regular expression"),
    ('    readiness:\n      tcp: 70000\n', 5,
     r"services\.web\.readiness\.tcp: port 70000 is out of range"),
    ('    liveness:\n      tcp: "127.0.0.1:70000"\n', 5,
     r"services\.web\.liveness\.tcp: .*70000"),
    ('    liveness: {notify: true}\n', 4, r"services\.web\.liveness"),
    ('    readiness: {interval: 1s}\n', 4, r"services\.web\.readiness: .*\(got none\)"),
    ('    readiness: {tcp: 1, interval: soon}\n', 4,
     r"services\.web\.readiness\.interval: invalid duration 'soon'"),
    ('  app:\n    command: sleep 1\n    depends_on:\n      web: {condition: ready}\n', 7,
     NEEDS_READINESS),
    ('  app:\n    command: sleep 1\n    depends_on:\n      web: {condition: service_healthy}\n',
     7, NEEDS_READINESS),
])
def test_bad_readiness_block_fails_check_with_file_and_line(
        tmp_path: Path, service_yaml: str, line: int, message: str) -> None:
    path = tmp_path / "orchestra.yaml"
    path.write_text("services:\n  web:\n    command: sleep 1\n" + service_yaml)
    proc = subprocess.run([sys.executable, "-m", "orchestra", "check", "-f", str(path)],
                          capture_output=True, text=True, timeout=20, cwd=tmp_path,
                          start_new_session=True)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output
    assert re.search(rf"{re.escape(str(path))}:{line}:\d+: {message}", output), output
    assert "Traceback" not in output


def test_up_refuses_a_bad_readiness_block_without_starting_anything(
        project: Project, tmp_path: Path) -> None:
    started = tmp_path / "started"
    path = tmp_path / "orchestra.yaml"
    command = json.dumps([PY, "-c", f"open({str(started)!r}, 'w')"])
    path.write_text(f"services:\n  web:\n    command: {command}\n    readiness: {{tcp: 70000}}\n")
    result = up(project, path)
    assert result.rc == 2, result.dump()
    assert not started.exists()
    assert re.search(rf"{re.escape(str(path))}:4:\d+: .*70000", result.err.decode()), result.dump()
