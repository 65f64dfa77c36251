"""`orchestra run [--with SVC,...] -- CMD` (docs/CI.md) and the CI annotations (GITHUB_ACTIONS)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.cli import TEXT, Cli
from helpers.orch import PY, Project, describe, py, wait_no_leftovers
from helpers.readiness import free_port

FOREVER = "import time; print('up', flush=True); time.sleep(60)"


#: The command shares orchestra's stdout with the service lines orchestra writes: an unbuffered
#: python (PYTHONUNBUFFERED=1, as pytest may run under) writes a print's text and its newline
#: separately, and a service line can land between them. Buffered, `print(..., flush=True)` is
#: one write. Services still get PYTHONUNBUFFERED=1 from orchestra.
LINE_AT_ONCE = {"PYTHONUNBUFFERED": ""}


@pytest.fixture
def cli(project: Project) -> Iterator[Cli]:
    runner = Cli(project, LINE_AT_ONCE)
    yield runner
    runner.close()


def nothing_left(project: Project) -> None:
    left = wait_no_leftovers(project.mark, 3.0)
    assert not left, f"still running: {describe(left)}"


def cmd(code: str) -> list[str]:
    """`-- PY -c CODE` as the command of `orchestra run`."""
    return ["--", *py(code)]


# ---------------------------------------------------------------------------- without --with


def test_run_passes_output_through_untouched_and_returns_the_exit_code(
        project: Project, cli: Cli) -> None:
    project.procfile("web: echo web\n")
    result = cli.run("run", "--", "sh", "-c",
                     r"printf 'out \377 no newline'; printf 'err line\n' >&2; exit 7")
    assert result.rc == 7, result.dump()
    assert result.out == b"out \xff no newline", result.dump()
    assert result.err == b"err line\n", result.dump()


@pytest.mark.parametrize(("script", "expected"), [
    ("exit 0", 0),
    ("exit 7", 7),
    ("kill -TERM $$", 128 + 15),
    ("kill -KILL $$", 128 + 9),
])
def test_run_exit_code_is_the_commands(project: Project, cli: Cli, script: str,
                                       expected: int) -> None:
    project.procfile("web: echo web\n")
    result = cli.run("run", "--", "sh", "-c", script)
    assert result.rc == expected, result.dump()
    assert result.out == b"" and result.err == b"", result.dump()


def test_run_gets_dotenv_and_project_env(project: Project, cli: Cli) -> None:
    (project.root / ".env").write_text("FROM_DOTENV=dot\nSHARED=dotenv\n")
    project.yaml({"web": {"command": py(FOREVER)}},
                 env={"FROM_PROJECT": "proj", "SHARED": "project"})
    result = cli.run("run", "--", "sh", "-c",
                     'echo "$FROM_DOTENV $FROM_PROJECT $SHARED"')
    assert result.rc == 0, result.dump()
    # the project env is layered over the .env file (docs/CONFIG.md: env files, then `env`)
    assert result.out == b"dot proj project\n", result.dump()


def test_run_needs_no_config_file(project: Project, cli: Cli) -> None:
    """honcho run and foreman run work in a folder with only a .env."""
    (project.root / ".env").write_text("FROM_DOTENV=yes\n")
    result = cli.run("run", "sh", "-c", 'echo "$FROM_DOTENV"; exit 4')
    assert result.rc == 4, result.dump()
    assert result.out == b"yes\n", result.dump()
    with_services = cli.run("run", "--with", "db", "--", "true", merge_stderr=False)
    assert with_services.rc == 2 and b"no orchestra.yaml" in with_services.err, \
        with_services.dump()


@pytest.mark.parametrize("config", [True, False])
def test_run_tells_the_command_where_it_runs(project: Project, cli: Cli, config: bool) -> None:
    (project.root / "sub").mkdir()
    if config:
        (project.root / "sub" / "Procfile").write_text("web: true\n")
    result = cli.run("-d", "sub", "run", "--", "sh", "-c", 'echo "$PWD"; pwd',
                     env={"PWD": str(project.root)})
    assert result.rc == 0, result.dump()
    where = str((project.root / "sub").resolve())
    assert [str(Path(line).resolve()) for line in result.out.decode().split()] == [where] * 2, \
        result.dump()


def test_run_with_a_procfile_entry_name_runs_that_command(project: Project, cli: Cli) -> None:
    (project.root / ".env").write_text("GREETING=hello\n")
    project.procfile("""\
        web: echo "web says $GREETING"; exit 5
        worker: echo worker
        """)
    result = cli.run("run", "web")
    assert result.rc == 5, result.dump()
    assert result.out == b"web says hello\n", result.dump()


def test_run_with_a_yaml_service_name_runs_its_command(project: Project, cli: Cli) -> None:
    project.yaml({"hello": {"command": py("import os; print('hi from', os.environ['WHO'])"),
                            "env": {"WHO": "hello-service"}}})
    result = cli.run("run", "hello")
    assert result.rc == 0, result.dump()
    assert result.out == b"hi from hello-service\n", result.dump()


def test_run_without_a_command_is_a_usage_error(project: Project, cli: Cli) -> None:
    project.procfile("web: echo web\n")
    result = cli.run("run")
    assert result.rc == 2, result.dump()
    assert b"run needs a command" in result.err, result.dump()


@pytest.mark.parametrize("flag", ["--no-deps", "--quiet-services"])
def test_with_options_without_with_are_a_usage_error(project: Project, cli: Cli,
                                                     flag: str) -> None:
    """`run --no-deps pytest` (the --with forgotten) would run pytest with nothing started
    and no word about it; a CI job would then fail on a missing database, far from the
    cause."""
    project.procfile("web: echo web\n")
    result = cli.run("run", flag, "--", "echo", "ran", merge_stderr=False)
    assert result.rc == 2, result.dump()
    assert f"{flag} goes with --with".encode() in result.err, result.dump()
    assert b"ran" not in result.out, result.dump()


@pytest.mark.parametrize(("args", "message"), [
    (["--with", "web", "--quiet", "--", "true"],
     b"no such option --quiet (did you mean --quiet-services?)"),
    (["--with=web", "--no-timestamp", "--", "true"],
     b"no such option --no-timestamp (did you mean --no-timestamps?)"),
    (["--exit-code-from", "web", "true"], b"no such option --exit-code-from"),
])
def test_an_unknown_run_option_is_a_usage_error_and_starts_nothing(
        project: Project, cli: Cli, tmp_path: Path, args: list[str], message: bytes) -> None:
    started = tmp_path / "started"
    project.procfile(f"web: touch {started}\n")
    result = cli.run("run", *args, merge_stderr=False)
    assert result.rc == 2, result.dump()
    assert message in result.err, result.dump()
    assert not started.exists() and b"started pid" not in result.out, result.dump()


def test_a_command_starting_with_a_dash_goes_after_the_separator(project: Project,
                                                                 cli: Cli) -> None:
    project.procfile("web: true\n")
    result = cli.run("run", "--", "-not-a-program-anywhere")
    assert result.rc == 127, result.dump()
    assert b"'-not-a-program-anywhere' not found" in result.err, result.dump()


# ---------------------------------------------------------------------------- --with


def delayed_server(port: int, delay: float = 0.8) -> list[str]:
    """A TCP server that starts listening only after `delay` seconds, then serves forever."""
    return py(f"""
        import socket, time
        time.sleep({delay})
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", {port}))
        s.listen(16)
        print("listening", flush=True)
        while True:
            conn, _ = s.accept()
            conn.sendall(b"hello from db")
            conn.close()
        """)


CONNECT = """
    import os, socket, sys
    port = int(os.environ["DB_PORT"])
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            data = c.recv(100)
    except OSError as exc:
        print("connect failed:", exc, flush=True)
        sys.exit(99)
    print("cmd got", data.decode(), "on", port, os.environ["PROJ"], flush=True)
    sys.exit(7)
"""


def test_run_with_waits_until_the_service_is_ready(project: Project, cli: Cli) -> None:
    port = free_port()
    project.yaml({"db": {"command": delayed_server(port), "port": port,
                         "readiness": {"tcp": port, "interval": "100ms"}}},
                 env={"PROJ": "project-env"})
    result = cli.run("run", *TEXT, "--with", "db", *cmd(CONNECT))
    assert result.rc == 7, result.dump()
    assert f"cmd got hello from db on {port} project-env" in result.lines, result.dump()
    assert result.of("db") == ["listening"], result.dump()
    # the command's own line is raw, between "running" and "command exited"
    assert (result.index(r"^system +\| db: ready: ")
            < result.index(r"^system +\| all services ready; running ")
            < result.index(r"^cmd got hello")
            < result.index(r"^system +\| command exited rc=7$")
            < result.index(r"^system +\| db: stopped by SIGTERM$")), result.dump()
    nothing_left(project)


def test_run_with_starts_dependencies_first(project: Project, cli: Cli) -> None:
    port = free_port()
    project.yaml({
        "db": {"command": delayed_server(port), "port": port,
               "readiness": {"tcp": port, "interval": "100ms"}},
        # ready on its line: without a check, "ready" is "started", and a quick command could
        # end (and api be stopped) before api had printed anything
        "api": {"command": py(FOREVER), "depends_on": {"db": {"condition": "ready"}},
                "readiness": {"log": "^up$"}},
    }, env={"PROJ": "p"})
    result = cli.run("run", *TEXT, "--with", "api", *cmd(CONNECT))
    assert result.rc == 7, result.dump()
    assert result.of("api") == ["up"] and result.of("db") == ["listening"], result.dump()
    assert (result.index(r"^system +\| db: ready: ")
            < result.index(r"^system +\| api: started pid=")
            < result.index(r"^cmd got hello")), result.dump()
    nothing_left(project)


def test_run_with_exports_a_port_variable_per_service(project: Project, cli: Cli) -> None:
    p1, p2 = free_port(), free_port()
    project.yaml({
        "my-db": {"command": py(FOREVER), "port": p1},
        "web": {"command": py(FOREVER), "port": p2, "replicas": 2},
        "noport": {"command": py(FOREVER)},
    })
    show = ("import os; print(' '.join(f'{k}={v}' for k, v in sorted(os.environ.items()) "
            "if k.endswith('_PORT')))")
    result = cli.run("run", *TEXT, "--with", "my-db,web,noport", *cmd(show))
    assert result.rc == 0, result.dump()
    expected = f"MY_DB_PORT={p1} WEB_1_PORT={p2} WEB_2_PORT={p2 + 1} WEB_PORT={p2}"
    assert expected in result.lines, result.dump()
    nothing_left(project)


def test_failed_dependency_means_the_command_never_runs(project: Project, cli: Cli,
                                                        tmp_path: Path) -> None:
    created = tmp_path / "created"
    project.yaml({
        "migrate": {"command": py("import sys, time; time.sleep(0.3); print('boom'); "
                                  "sys.exit(3)")},
        "api": {"command": py(FOREVER),
                "depends_on": {"migrate": {"condition": "completed_successfully"}}},
    })
    result = cli.run("run", *TEXT, "--with", "api", "--", "touch", str(created))
    assert result.rc == 3, result.dump()
    assert not created.exists(), result.dump()
    assert result.of("migrate") == ["boom"], result.dump()
    assert re.search(r"^system +\| not running the command", result.text, re.M), result.dump()
    nothing_left(project)


def test_service_never_ready_means_the_command_never_runs(project: Project, cli: Cli,
                                                          tmp_path: Path) -> None:
    created = tmp_path / "created"
    port = free_port()   # nobody listens there
    project.yaml({"db": {"command": py(FOREVER),
                         "readiness": {"tcp": port, "interval": "200ms",
                                       "start_period": "1s"}}})
    orch = cli.start("run", *TEXT, "--with", "db", "--", "touch", str(created))
    result = orch.wait(15)
    assert result.rc != 0, result.dump()
    assert result.rc == 1, result.dump()   # docs/CI.md: 1 if a readiness check failed
    assert not created.exists(), result.dump()
    assert re.search(r"^system +\| db: .*not ready within 1 s", result.text, re.M), result.dump()
    nothing_left(project)


def test_service_ending_with_0_before_it_is_ready_means_the_command_never_runs(
        project: Project, cli: Cli, tmp_path: Path) -> None:
    created = tmp_path / "created"
    project.yaml({
        "db": {"command": py("print('bye')"),
               "readiness": {"tcp": free_port(), "interval": "200ms", "start_period": "10s"}},
        "cache": {"command": py(FOREVER)},
    })
    result = cli.start("run", *TEXT, "--with", "db,cache", "--", "touch", str(created)).wait(15)
    assert result.rc == 1, result.dump()
    assert not created.exists(), result.dump()
    assert re.search(r"^system +\| not running the command: db ended \(exited rc=0\) before "
                     r"it was ready$", result.text, re.M), result.dump()
    assert "all services ready" not in result.text, result.dump()
    nothing_left(project)


def test_no_deps_does_not_start_dependencies(project: Project, cli: Cli,
                                             tmp_path: Path) -> None:
    flag = tmp_path / "dep-ran"
    project.yaml({
        "dep": {"command": py(f"open({str(flag)!r}, 'w').close(); "
                              "import time; time.sleep(60)")},
        "app": {"command": py(FOREVER), "depends_on": ["dep"]},
    })
    result = cli.run("run", *TEXT, "--with", "app", "--no-deps", "--", "echo", "cmd ran")
    assert result.rc == 0, result.dump()
    assert "cmd ran" in result.lines, result.dump()
    assert not flag.exists(), result.dump()
    assert not re.search(r"^system +\| dep: ", result.text, re.M), result.dump()
    nothing_left(project)


CHATTY = ("import time\nfor i in range(60): print('svc line', i, flush=True)\n"
          "time.sleep(60)\n")


@pytest.mark.parametrize("code", [0, 4])
def test_quiet_services_hides_service_lines_and_shows_tails_on_failure(
        project: Project, cli: Cli, code: int) -> None:
    project.yaml({"svc": {"command": [PY, "-c", CHATTY],
                          "readiness": {"log": "svc line 59"}},
                  "other": {"command": py("import time; print('other says hi', flush=True); "
                                          "time.sleep(60)"),
                            "readiness": {"log": "other says hi"}}})
    result = cli.run("run", *TEXT, "--quiet-services", "--with", "svc,other", "--",
                     "sh", "-c", f"echo cmd out; exit {code}")
    assert result.rc == code, result.dump()
    assert "cmd out" in result.lines, result.dump()
    exited = result.index(rf"^system +\| command exited rc={code}$")
    before = [line for line in result.lines[:exited] if line.startswith(("svc ", "other "))]
    assert before == [], result.dump()
    if code == 0:
        assert result.of("svc") == [] and result.of("other") == [], result.dump()
    else:
        assert result.of("svc") == [f"svc line {i}" for i in range(10, 60)], result.dump()
        assert result.of("other") == ["other says hi"], result.dump()
        assert result.index(r"^system +\| last 50 lines of svc:$") > exited, result.dump()
        assert result.index(r"^system +\| last line of other:$") > exited, result.dump()
    nothing_left(project)


def test_run_with_json_output(project: Project, cli: Cli) -> None:
    project.yaml({"svc": {"command": py("import time; print('svc says hi', flush=True); "
                                        "time.sleep(60)"),
                          "readiness": {"log": "svc says hi"}}})
    result = cli.run("run", "--output", "json", "--with", "svc", "--",
                     "sh", "-c", "echo 'cmd raw {not json'")
    assert result.rc == 0, result.dump()
    raw = [line for line in result.lines if not line.startswith("{")]
    assert raw == ["cmd raw {not json"], result.dump()
    objects = [json.loads(line) for line in result.lines if line.startswith("{")]
    assert all(isinstance(o, dict) for o in objects), result.dump()
    said = [o for o in objects if o.get("service") == "svc" and o.get("stream") == "stdout"]
    assert [o["text"] for o in said] == ["svc says hi"], result.dump()
    events = [o.get("event") for o in objects]
    assert "command-start" in events and "command-exit" in events, result.dump()
    nothing_left(project)


def test_run_with_json_output_reports_a_missing_command_as_json(project: Project,
                                                                 cli: Cli) -> None:
    """orchestra's own word about the command goes through the multiplexer: under
    `--output json` every line orchestra writes is a JSON object."""
    project.yaml({"db": {"command": py("import time; time.sleep(60)")}})
    result = cli.run("run", "--with", "db", "--output", "json", "--", "no-such-cmd-xyz")
    assert result.rc == 127, result.dump()
    objects = [json.loads(line) for line in result.lines]   # fails on a plain line
    errors = [o for o in objects if o.get("event") == "command-error"]
    assert [o["text"] for o in errors] == ["cannot run: 'no-such-cmd-xyz' not found"], \
        result.dump()
    assert [o["rc"] for o in objects if o.get("event") == "command-exit"] == [127]
    nothing_left(project)


def test_run_with_text_output_reports_a_missing_command_as_a_system_line(
        project: Project, cli: Cli) -> None:
    project.yaml({"db": {"command": py("import time; time.sleep(60)")}})
    result = cli.run("run", "--with", "db", *TEXT, "--", "no-such-cmd-xyz")
    assert result.rc == 127, result.dump()
    assert "cannot run: 'no-such-cmd-xyz' not found" in result.of("system"), result.dump()
    nothing_left(project)


# A command that forwards nothing itself: its grandchild, in the same process group, records
# the signal it got; the command waits for it, then dies of the same signal.
GRANDCHILD = """
    import os, signal, sys, time
    def got(signum, frame):
        with open(FLAG, "w") as f:
            f.write(signal.Signals(signum).name)
        sys.exit(0)
    signal.signal(signal.SIGINT, got)
    signal.signal(signal.SIGTERM, got)
    os.write(1, b"grandchild up\\n")
    time.sleep(60)
"""

FOREGROUND = """
    import os, signal, subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", GRANDCHILD])
    def die(signum, frame):
        child.wait(10)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
    signal.signal(signal.SIGINT, die)
    signal.signal(signal.SIGTERM, die)
    os.write(1, b"cmd up\\n")
    time.sleep(60)
"""


@pytest.mark.parametrize("with_services", [True, False])
@pytest.mark.parametrize(("signum", "expected"), [
    (signal.SIGINT, 130),
    (signal.SIGTERM, 143),
])
def test_signal_during_the_command_stops_it_and_the_services(
        project: Project, cli: Cli, tmp_path: Path, signum: int, expected: int,
        with_services: bool) -> None:
    flag = tmp_path / "grandchild-got"
    grandchild = (f"FLAG = {str(flag)!r}\n"
                  + "\n".join(line[4:] for line in GRANDCHILD.strip("\n").split("\n")))
    code = f"GRANDCHILD = {grandchild!r}\n" + "\n".join(
        line[4:] for line in FOREGROUND.strip("\n").split("\n"))
    project.yaml({"svc": {"command": py("import time; print('svc up', flush=True); "
                                        "time.sleep(60)"),
                          "readiness": {"log": "svc up"}}})
    with_args = ("--with", "svc") if with_services else ()
    orch = cli.start("run", *TEXT, *with_args, "--", PY, "-c", code)
    orch.wait_for(r"^cmd up$")
    orch.wait_for(r"^grandchild up$")
    orch.send(signum)
    result = orch.wait(15)
    assert result.rc == expected, result.dump()
    assert flag.exists() and flag.read_text() == signal.Signals(signum).name, result.dump()
    if with_services:
        assert re.search(rf"^system +\| command exited rc={expected}$", result.text, re.M), \
            result.dump()
        assert re.search(r"^system +\| svc: stopped by SIGTERM$", result.text, re.M), \
            result.dump()
    else:
        assert result.lines == ["cmd up", "grandchild up"], result.dump()
    nothing_left(project)


def test_a_command_ignoring_the_signal_is_killed_one_timeout_later(
        project: Project, cli: Cli, tmp_path: Path) -> None:
    """-t is the time from the stop signal to SIGKILL, and the command gets one stop signal."""
    got = tmp_path / "got"
    project.procfile("web: true\n")
    orch = cli.start("run", "-t", "1", "--", *py(f"""
        import os, signal, time
        def note(signum, frame):
            with open({str(got)!r}, "a") as f:
                f.write(signal.Signals(signum).name + "\\n")
        signal.signal(signal.SIGTERM, note)
        os.write(1, b"cmd up\\n")
        time.sleep(60)
    """))
    orch.wait_for(r"^cmd up$")
    began = time.monotonic()
    orch.send(signal.SIGTERM)
    result = orch.wait(15)
    took = time.monotonic() - began
    assert result.rc == 128 + signal.SIGKILL, result.dump()
    assert got.read_text().split() == ["SIGTERM"], result.dump()
    assert 1.0 <= took < 1.9, f"SIGKILL after {took:.2f} s (-t 1)"
    nothing_left(project)


def test_run_with_keeps_the_commands_stdout_its_own(project: Project, cli: Cli) -> None:
    """Service and system lines go to stderr: `run --with db -- pg_dump > dump.sql` works."""
    project.yaml({"svc": {"command": py("import time; print('svc up', flush=True); "
                                        "time.sleep(60)"),
                          "readiness": {"log": "svc up"}}})
    payload = bytes(range(256)) * 64
    result = cli.run("run", *TEXT, "--with", "svc", "--", *py(
        f"import sys; sys.stdout.buffer.write({payload!r})"), merge_stderr=False)
    assert result.rc == 0, result.dump()
    assert result.out == payload, result.dump()
    err = result.err.decode()
    assert "svc    | svc up" in err and "system | command exited rc=0" in err, result.dump()
    nothing_left(project)


def test_signal_before_the_services_are_ready_means_no_command(
        project: Project, cli: Cli, tmp_path: Path) -> None:
    created = tmp_path / "created"
    project.yaml({"slow": {"command": py("import time; print('slow up', flush=True); "
                                         "time.sleep(60)"),
                           "readiness": {"tcp": free_port(), "interval": "100ms",
                                         "start_period": "30s"}}})
    orch = cli.start("run", *TEXT, "--with", "slow", "--", "touch", str(created))
    orch.wait_for(r"^slow +\| slow up$")
    orch.send(signal.SIGINT)
    result = orch.wait(15)
    assert result.rc == 130, result.dump()
    assert not created.exists(), result.dump()
    assert re.search(r"^system +\| slow: stopped by SIGTERM$", result.text, re.M), \
        result.dump()
    nothing_left(project)


def test_orchestra_killed_during_the_command_leaves_nothing(project: Project,
                                                            cli: Cli) -> None:
    project.yaml({"svc": {"command": py(FOREVER)}})
    orch = cli.start("run", *TEXT, "--with", "svc", "--", *py(
        "import time; print('cmd up', flush=True); time.sleep(60)"))
    orch.wait_for(r"^cmd up$")
    orch.wait_for(r"^svc +\| up$")
    orch.send(signal.SIGKILL)
    orch.proc.wait(5)
    left = wait_no_leftovers(project.mark, 5.0)
    assert not left, f"still running after orchestra was killed: {describe(left)}"


def test_command_killed_by_a_signal_with_services(project: Project, cli: Cli) -> None:
    project.yaml({"svc": {"command": py(FOREVER)}})
    result = cli.run("run", *TEXT, "--with", "svc", "--", "sh", "-c", "kill -TERM $$")
    assert result.rc == 143, result.dump()
    nothing_left(project)


def test_service_dying_during_the_command_stops_it(project: Project, cli: Cli) -> None:
    project.yaml({"dies": {"command": py("import sys, time; print('dies up', flush=True); "
                                         "time.sleep(0.5); sys.exit(6)")}})
    started = time.monotonic()
    result = cli.run("run", *TEXT, "--with", "dies", "--", *py(
        "import time; print('cmd up', flush=True); time.sleep(30)"), timeout=25)
    assert result.rc == 6, result.dump()
    assert time.monotonic() - started < 15, result.dump()
    assert (result.index(r"^cmd up$") < result.index(r"^system +\| dies: exited rc=6$")
            < result.index(r"^system +\| command exited rc=143$")), result.dump()
    nothing_left(project)


@pytest.mark.parametrize("with_services", [True, False])
def test_command_reads_orchestras_stdin(project: Project, with_services: bool) -> None:
    # a service reading stdin must not take the command's input
    project.yaml({"reader": {"command": py(
        "import sys, time; print('reader got', repr(sys.stdin.read()), flush=True); "
        "time.sleep(60)"), "readiness": {"log": "reader got"}}})
    with_args = ("--with", "reader") if with_services else ()
    proc = subprocess.run([PY, "-m", "orchestra", "run", *TEXT, *with_args, "--", "cat"],
                          input=b"line one\nline two\n", capture_output=True, timeout=20,
                          cwd=project.root, env=project.env(LINE_AT_ONCE))
    assert proc.returncode == 0, proc
    assert proc.stdout == b"line one\nline two\n", proc   # the command's stdout is its own
    if with_services:
        assert "reader | reader got ''" in proc.stderr.decode().splitlines(), proc
    nothing_left(project)


# ---------------------------------------------------------------------------- CI annotations


FAILING = ("import sys, time\nfor i in range(3): print('bad line', i, flush=True)\n"
           "time.sleep(0.3)\nsys.exit(3)\n")


def test_github_actions_annotates_a_failing_service_in_run(project: Project, cli: Cli,
                                                           tmp_path: Path) -> None:
    created = tmp_path / "created"
    project.yaml({"bad": {"command": [PY, "-c", FAILING],
                          "readiness": {"tcp": free_port(), "interval": "100ms"}}})
    result = cli.run("run", *TEXT, "--with", "bad", "--", "touch", str(created),
                     env={"GITHUB_ACTIONS": "true"})
    assert result.rc == 3, result.dump()
    assert not created.exists(), result.dump()
    error = result.index(r"^::error title=orchestra%3A bad failed::")
    group = result.index(r"^::group::bad: last lines$")
    end = result.index(r"^::endgroup::$")
    assert error < group < end, result.dump()
    inside = result.lines[group + 1:end]
    assert inside == [f"bad    | bad line {i}" for i in range(3)], result.dump()
    nothing_left(project)


def test_github_actions_annotation_says_why_a_check_failed(project: Project, cli: Cli) -> None:
    port = free_port()
    project.yaml({"web": {"command": py("import time; time.sleep(60)"),
                          "readiness": {"tcp": port, "interval": "100ms", "retries": 1,
                                        "start_period": 0}}})
    result = cli.run("up", *TEXT, env={"GITHUB_ACTIONS": "true"})
    assert result.rc == 1, result.dump()
    assert re.search(rf"^::error title=orchestra%3A web failed::web: not ready: tcp 127\.0\.0\.1:"
                     rf"{port}: connection refused \(attempt 2\); gave up after 2 attempts",
                     result.text, re.M), result.dump()
    assert "::group::" not in result.text, f"a group with no lines: {result.dump()}"
    nothing_left(project)


def test_github_actions_annotates_a_skipped_service_and_a_command_not_run(
        project: Project, cli: Cli) -> None:
    project.yaml({"db": {"command": py("print('bye')"),
                         "readiness": {"tcp": free_port(), "interval": "100ms"}},
                  "web": {"command": py(FOREVER),
                          "depends_on": {"db": {"condition": "ready"}}}})
    up = cli.run("up", *TEXT, env={"GITHUB_ACTIONS": "true"})
    assert up.rc == 1, up.dump()
    assert re.search(r"^::error title=orchestra%3A web failed::web: skipped: dependency 'db' "
                     r"exited \(needed: ready\)$", up.text, re.M), up.dump()
    run = cli.run("run", *TEXT, "--with", "db", "--", "true", env={"GITHUB_ACTIONS": "true"})
    assert run.rc == 1, run.dump()
    assert re.search(r"^::error title=orchestra%3A command not run::not running the command: "
                     r"db ended \(exited rc=0\) before it was ready$", run.text, re.M), run.dump()
    nothing_left(project)


def test_github_actions_annotates_a_failing_service_in_up(project: Project, cli: Cli) -> None:
    project.yaml({"long": {"command": py(FOREVER)},
                  "bad": {"command": [PY, "-c", FAILING]}})
    result = cli.run("up", *TEXT, env={"GITHUB_ACTIONS": "true"})
    assert result.rc == 3, result.dump()
    assert re.search(r"^::error title=orchestra%3A bad failed::bad: exited rc=3$",
                     result.text, re.M), result.dump()
    group = result.index(r"^::group::bad: last lines$")
    end = result.index(r"^::endgroup::$")
    assert [line.split("| ", 1)[1] for line in result.lines[group + 1:end]] == \
        [f"bad line {i}" for i in range(3)], result.dump()
    nothing_left(project)


@pytest.mark.parametrize("command", ["up", "run"])
def test_no_annotations_outside_github_actions(project: Project, cli: Cli,
                                               command: str) -> None:
    project.yaml({"bad": {"command": [PY, "-c", FAILING],
                          "readiness": {"tcp": free_port(), "interval": "100ms"}}})
    args = ("--with", "bad", "--", "true") if command == "run" else ()
    result = cli.run(command, *TEXT, *args, env={"GITHUB_ACTIONS": "false"})
    assert result.rc == 3, result.dump()
    assert [line for line in result.lines if line.startswith("::")] == [], result.dump()
    assert result.of("bad") == [f"bad line {i}" for i in range(3)], result.dump()
    nothing_left(project)


def test_run_alone_reports_a_missing_command_through_the_multiplexer(
        project: Project, cli: Cli) -> None:
    """Without --with too, every line orchestra itself writes is a JSON object under
    `--output json` (one writer for every byte orchestra prints)."""
    project.procfile("web: sleep 60\n")
    result = cli.run("run", "--output", "json", "--", "no-such-cmd-xyz", merge_stderr=True)
    assert result.rc == 127, result.dump()
    objects = [json.loads(line) for line in result.lines]   # fails on a plain line
    assert [o["text"] for o in objects if o.get("event") == "command-error"] == [
        "cannot run: 'no-such-cmd-xyz' not found"], result.dump()
