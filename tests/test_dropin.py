"""orchestra as a drop-in for honcho/foreman (docs/MIGRATING.md), and `up`'s exit policies."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.cli import TEXT, Cli
from helpers.orch import Project, describe, py, wait_no_leftovers

FOREVER = "import time; print('forever up', flush=True); time.sleep(60)"

THREE = """\
    web: echo "web $PORT $PS"
    worker: echo "worker $PORT $PS"
    clock: echo "clock $PORT $PS"
    """


@pytest.fixture
def cli(project: Project) -> Iterator[Cli]:
    runner = Cli(project)
    yield runner
    runner.close()


def nothing_left(project: Project) -> None:
    left = wait_no_leftovers(project.mark, 3.0)
    assert not left, f"still running: {describe(left)}"


# ---------------------------------------------------------------------------- start, -f


@pytest.mark.parametrize("command", ["up", "start"])
def test_start_is_up(project: Project, cli: Cli, command: str) -> None:
    project.procfile("web: echo hello from web\n")
    result = cli.run(command, *TEXT)
    assert result.rc == 0, result.dump()
    assert result.of("web.1") == ["hello from web"], result.dump()
    assert re.search(r"^system +\| web\.1: exited rc=0$", result.text, re.M), result.dump()


@pytest.mark.parametrize("flag", ["-f", "--procfile", "--file"])
def test_procfile_flag_names_the_procfile(project: Project, cli: Cli, flag: str) -> None:
    project.procfile("web: echo default procfile\n")
    (project.root / "sub").mkdir()
    (project.root / "sub" / "Procfile.dev").write_text("dev: echo dev procfile\n")
    result = cli.run("start", *TEXT, flag, "sub/Procfile.dev")
    assert result.rc == 0, result.dump()
    assert result.of("dev.1") == ["dev procfile"] and result.of("web.1") == [], result.dump()


def test_procfile_env_var_names_the_procfile(project: Project, cli: Cli) -> None:
    project.procfile("web: echo default procfile\n")
    (project.root / "Procfile.alt").write_text("alt: echo alt procfile\n")
    result = cli.run("start", *TEXT, env={"PROCFILE": "Procfile.alt"})
    assert result.rc == 0, result.dump()
    assert result.of("alt.1") == ["alt procfile"] and result.of("web.1") == [], result.dump()


@pytest.mark.parametrize("where", [".env", "-e"])
def test_procfile_in_dotenv_names_the_procfile(project: Project, cli: Cli, where: str) -> None:
    project.procfile("web: echo default procfile\n")
    (project.root / "Procfile.alt").write_text("alt: echo alt procfile $FROM_ENV\n")
    name = ".env" if where == ".env" else "ci.env"
    (project.root / name).write_text("PROCFILE=Procfile.alt\nFROM_ENV=yes\n")
    args = () if where == ".env" else ("-e", "ci.env")
    result = cli.run("start", *TEXT, *args)
    assert result.rc == 0, result.dump()
    assert result.of("alt.1") == ["alt procfile yes"] and result.of("web.1") == [], \
        result.dump()


# ---------------------------------------------------------------------------- -e


@pytest.mark.parametrize(("files", "expected"), [
    ("a.env,b.env", "K=b ONLY_A=1 ONLY_B=2 DOT="),
    ("b.env,a.env", "K=a ONLY_A=1 ONLY_B=2 DOT="),
])
@pytest.mark.parametrize("flag", ["-e", "--env", "--env-file"])
def test_env_files_later_wins_and_replace_dotenv(project: Project, cli: Cli, flag: str,
                                                 files: str, expected: str) -> None:
    project.procfile('web: echo "K=$K ONLY_A=$ONLY_A ONLY_B=$ONLY_B DOT=$DOT"\n')
    (project.root / ".env").write_text("K=dotenv\nDOT=1\n")
    (project.root / "a.env").write_text("K=a\nONLY_A=1\n")
    (project.root / "b.env").write_text("K=b\nONLY_B=2\n")
    result = cli.run("start", *TEXT, flag, files)
    assert result.rc == 0, result.dump()
    assert result.of("web.1") == [expected], result.dump()


def test_missing_env_file_is_an_error(project: Project, cli: Cli) -> None:
    project.procfile("web: echo web\n")
    result = cli.run("start", *TEXT, "-e", "nope.env")
    assert result.rc == 2, result.dump()
    assert b"nope.env" in result.err, result.dump()
    assert result.of("web.1") == [], result.dump()


# ---------------------------------------------------------------------------- -d


def test_app_root_is_where_services_run(project: Project, cli: Cli) -> None:
    """-d: services run there, and a relative -f resolves there too (as in honcho)."""
    app = project.root / "app"
    app.mkdir()
    (app / "Procfile.dev").write_text("web: pwd\n")
    result = cli.run("start", *TEXT, "-f", "Procfile.dev", "-d", "app")
    assert result.rc == 0, result.dump()
    out = result.of("web.1")
    assert len(out) == 1 and Path(out[0]).resolve() == app.resolve(), result.dump()


@pytest.mark.parametrize("flag", ["-d", "--app-root", "--root"])
def test_app_root_holds_the_procfile_and_env(project: Project, cli: Cli, flag: str) -> None:
    app = project.root / "app"
    app.mkdir()
    (app / "Procfile").write_text('web: echo "$(pwd) $WHERE"\n')
    (app / ".env").write_text("WHERE=app-dotenv\n")
    result = cli.run("start", *TEXT, flag, str(app))
    assert result.rc == 0, result.dump()
    out = result.of("web.1")
    assert len(out) == 1, result.dump()
    where, value = out[0].rsplit(" ", 1)
    assert Path(where).resolve() == app.resolve() and value == "app-dotenv", result.dump()


# ---------------------------------------------------------------------------- -c/-m, -p


@pytest.mark.parametrize("flag", ["-c", "--concurrency", "-m", "--formation"])
def test_formation(project: Project, cli: Cli, flag: str) -> None:
    project.procfile(THREE)
    result = cli.run("start", *TEXT, flag, "web=2,worker=0,all=1", "-p", "6000")
    assert result.rc == 0, result.dump()
    assert result.of("web.1") == ["web 6000 web.1"], result.dump()
    assert result.of("web.2") == ["web 6001 web.2"], result.dump()
    assert result.of("clock.1") == ["clock 6200 clock.1"], result.dump()
    assert result.of("worker.1") == [], result.dump()
    assert not re.search(r"worker", result.text), result.dump()


def test_procfile_processes_get_honchos_process_name(project: Project, cli: Cli) -> None:
    """honcho sets HONCHO_PROCESS_NAME (`web.2`) for each process, and apps read it (a log
    file per process, `ifdef HONCHO_PROCESS_NAME` against a Makefile starting itself): a
    Procfile gets it as under honcho, the same name as foreman's PS; orchestra.yaml, which
    honcho never read, does not."""
    project.procfile('web: echo "web $HONCHO_PROCESS_NAME"\n'
                     'worker: echo "worker ${HONCHO_PROCESS_NAME-unset}"\n')
    result = cli.run("start", *TEXT, "-c", "web=2")
    assert result.rc == 0, result.dump()
    assert result.of("web.1") == ["web web.1"] and result.of("web.2") == ["web web.2"], \
        result.dump()
    assert result.of("worker.1") == ["worker worker.1"], result.dump()
    project.yaml({"web": {"command": 'echo "web $${HONCHO_PROCESS_NAME-unset}"'}})
    yaml = cli.run("up", *TEXT, "-f", "orchestra.yaml")
    assert yaml.rc == 0 and yaml.of("web") == ["web unset"], yaml.dump()


@pytest.mark.parametrize(("args", "env", "dotenv", "base"), [
    (("-p", "6000"), {}, None, 6000),
    (("--port", "6000"), {}, None, 6000),
    ((), {"PORT": "8000"}, None, 8000),
    ((), {}, None, 5000),
    (("-p", "6000"), {"PORT": "8000"}, None, 6000),
    (("-p", "6000"), {}, "PORT=7777\n", 6000),
])
def test_port_rule(project: Project, cli: Cli, args: tuple[str, ...], env: dict[str, str],
                   dotenv: str | None, base: int) -> None:
    project.procfile(THREE)
    if dotenv is not None:
        (project.root / ".env").write_text(dotenv)
    result = cli.run("start", *TEXT, "-c", "worker=2", *args, env=env)
    assert result.rc == 0, result.dump()
    assert result.of("web.1") == [f"web {base} web.1"], result.dump()
    assert result.of("worker.1") == [f"worker {base + 100} worker.1"], result.dump()
    assert result.of("worker.2") == [f"worker {base + 101} worker.2"], result.dump()
    assert result.of("clock.1") == [f"clock {base + 200} clock.1"], result.dump()


@pytest.mark.parametrize(("env", "dotenv", "message"), [
    ({"PORT": "abc"}, None, b"PORT='abc' from the environment is not a port"),
    ({"PORT": "0"}, None, b"PORT='0' from the environment is not a port"),
    ({"PORT": "\u00b2"}, None, b"from the environment is not a port"),
    ({}, "PORT=99999\n", b"PORT='99999' from the .env files is not a port"),
])
def test_a_base_port_that_is_not_a_port_is_an_error(project: Project, cli: Cli,
                                                    env: dict[str, str], dotenv: str | None,
                                                    message: bytes) -> None:
    project.procfile(THREE)
    if dotenv is not None:
        (project.root / ".env").write_text(dotenv)
    result = cli.run("start", *TEXT, env=env)
    assert result.rc == 2, result.dump()
    assert message in result.err and b"started" not in result.out, result.dump()


def test_port_index_is_the_procfile_order_not_the_selection(project: Project,
                                                             cli: Cli) -> None:
    project.procfile(THREE)
    result = cli.run("start", *TEXT, "-p", "6000", "clock", "worker")
    assert result.rc == 0, result.dump()
    assert result.of("clock.1") == ["clock 6200 clock.1"], result.dump()
    assert result.of("worker.1") == ["worker 6100 worker.1"], result.dump()
    assert result.of("web.1") == [], result.dump()


# ---------------------------------------------------------------------------- global options


def test_env_before_run(project: Project, cli: Cli) -> None:
    project.procfile("web: echo web\n")
    (project.root / "x.env").write_text("K=from-x\n")
    result = cli.run("-e", "x.env", "run", "sh", "-c", "echo K=$K")
    assert result.rc == 0, result.dump()
    assert result.out == b"K=from-x\n", result.dump()


def test_option_after_the_subcommand_wins(project: Project, cli: Cli) -> None:
    project.procfile("web: echo web\n")
    (project.root / "x.env").write_text("K=from-x\n")
    (project.root / "y.env").write_text("K=from-y\n")
    result = cli.run("-e", "x.env", "run", "-e", "y.env", "sh", "-c", "echo K=$K")
    assert result.rc == 0, result.dump()
    assert result.out == b"K=from-y\n", result.dump()


def test_procfile_before_start(project: Project, cli: Cli) -> None:
    project.procfile("web: echo default\n")
    (project.root / "P").write_text("other: echo from P\n")
    result = cli.run("-f", "P", "start", *TEXT)
    assert result.rc == 0, result.dump()
    assert result.of("other.1") == ["from P"] and result.of("web.1") == [], result.dump()


def test_app_root_before_start(project: Project, cli: Cli) -> None:
    app = project.root / "app"
    app.mkdir()
    (app / "Procfile").write_text("web: pwd\n")
    result = cli.run("-d", "app", "start", *TEXT)
    assert result.rc == 0, result.dump()
    out = result.of("web.1")
    assert len(out) == 1 and Path(out[0]).resolve() == app.resolve(), result.dump()


# ---------------------------------------------------------------------------- check


def test_check_on_a_procfile_says_so_on_stderr(project: Project, cli: Cli) -> None:
    project.procfile("web: echo web\nworker: echo worker\n")
    result = cli.run("check")
    assert result.rc == 0, result.dump()
    assert result.err == b"Valid procfile detected (web, worker)\n", result.dump()
    assert result.out == b"valid: 2 services (web, worker)\n", result.dump()


def test_check_on_yaml_does_not_claim_a_procfile(project: Project, cli: Cli) -> None:
    project.yaml({"web": {"command": py(FOREVER)}})
    result = cli.run("check")
    assert result.rc == 0, result.dump()
    assert result.err == b"", result.dump()
    assert result.out == b"valid: 1 service (web)\n", result.dump()


# ---------------------------------------------------------------------------- presentation


@pytest.mark.parametrize("flag", ["--no-colour", "--no-color"])
def test_no_colour(project: Project, cli: Cli, flag: str) -> None:
    project.procfile("web: echo hello\n")
    coloured = cli.run("start", "--no-timestamps", env={"FORCE_COLOR": "1"})
    assert coloured.rc == 0 and "\x1b[" in coloured.text, coloured.dump()
    plain = cli.run("start", "--no-timestamps", flag, env={"FORCE_COLOR": "1"})
    assert plain.rc == 0, plain.dump()
    assert "\x1b" not in plain.text, plain.dump()
    assert plain.of("web.1") == ["hello"], plain.dump()


def test_no_prefix(project: Project, cli: Cli) -> None:
    project.procfile("web: echo hello from web\n")
    result = cli.run("start", *TEXT, "--no-prefix")
    assert result.rc == 0, result.dump()
    assert "hello from web" in result.lines, result.dump()
    assert not any("|" in line for line in result.lines), result.dump()


@pytest.mark.parametrize("flag", ["-q", "--quiet"])
def test_quiet_hides_those_services(project: Project, cli: Cli, flag: str) -> None:
    project.procfile(THREE)
    result = cli.run("start", *TEXT, "-c", "web=2", flag, "web,clock")
    assert result.rc == 0, result.dump()
    assert result.of("web.1") == [] and result.of("web.2") == [], result.dump()
    assert result.of("clock.1") == [], result.dump()
    assert result.of("worker.1") == ["worker 5100 worker.1"], result.dump()


@pytest.mark.parametrize(("names", "message"), [
    ("wbe", b"error: -q/--quiet: unknown service 'wbe' (did you mean 'web'?)\n"),
    ("web,nothing-like-it", b"error: -q/--quiet: unknown service 'nothing-like-it'\n"),
    ("web.3", b"error: -q/--quiet: unknown service 'web.3' (did you mean 'web.2'?)\n"),
])
def test_quiet_with_an_unknown_name_is_a_usage_error(project: Project, cli: Cli, names: str,
                                                     message: bytes) -> None:
    project.procfile(THREE)
    result = cli.run("start", *TEXT, "-c", "web=2", "-q", names)
    assert result.rc == 2, result.dump()
    assert result.err == message, result.dump()
    assert result.out == b"", result.dump()


def test_quiet_accepts_an_instance_name(project: Project, cli: Cli) -> None:
    project.procfile(THREE)
    result = cli.run("start", *TEXT, "-c", "web=2", "-q", "web.2")
    assert result.rc == 0, result.dump()
    assert result.of("web.2") == [] and result.of("web.1") != [], result.dump()


# ---------------------------------------------------------------------------- exit policies


@pytest.mark.parametrize("code", [0, 5])
def test_exit_code_from(project: Project, cli: Cli, code: int) -> None:
    project.yaml({"forever": {"command": py(FOREVER)},
                  "tests": {"command": py(f"import sys, time; time.sleep(0.5); "
                                          f"print('tests done'); sys.exit({code})")}})
    started = time.monotonic()
    result = cli.run("up", *TEXT, "--exit-code-from", "tests", timeout=20)
    assert result.rc == code, result.dump()
    assert time.monotonic() - started < 10, result.dump()
    assert re.search(r"^system +\| stopping all services: tests ended \(--exit-code-from\)$",
                     result.text, re.M), result.dump()
    assert re.search(r"^system +\| forever: stopped by SIGTERM$", result.text, re.M), \
        result.dump()
    nothing_left(project)


@pytest.mark.parametrize("args", [("-c", "w=0"), ("forever",)])
def test_exit_code_from_a_service_this_run_does_not_start_is_a_usage_error(
        project: Project, cli: Cli, args: tuple[str, ...]) -> None:
    project.yaml({"forever": {"command": py(FOREVER)}, "w": {"command": py("print(1)")}})
    result = cli.run("up", *TEXT, "--exit-code-from", "w", *args)
    assert result.rc == 2, result.dump()
    assert b"'w' is not among the services this run starts" in result.err, result.dump()
    assert result.out == b"", result.dump()


def test_exit_code_from_unknown_service_is_a_usage_error(project: Project, cli: Cli) -> None:
    project.yaml({"forever": {"command": py(FOREVER)}})
    result = cli.run("up", *TEXT, "--exit-code-from", "nope")
    assert result.rc == 2, result.dump()
    assert b"unknown service 'nope'" in result.err, result.dump()
    assert result.out == b"", result.dump()
    result = cli.run("up", *TEXT, "--exit-code-from", "forevr")
    assert result.rc == 2, result.dump()
    assert b"unknown service 'forevr' (did you mean 'forever'?)" in result.err, result.dump()


def test_abort_on_exit_stops_everything_when_one_ends_with_zero(project: Project,
                                                                cli: Cli) -> None:
    project.yaml({"forever": {"command": py(FOREVER)},
                  "quick": {"command": py("import time; time.sleep(0.5); print('quick done')")}})
    started = time.monotonic()
    result = cli.run("up", *TEXT, "--abort-on-exit", timeout=20)
    assert result.rc == 0, result.dump()
    assert time.monotonic() - started < 10, result.dump()
    assert result.of("quick") == ["quick done"], result.dump()
    assert re.search(r"^system +\| stopping all services: quick ended \(--abort-on-exit\)$",
                     result.text, re.M), result.dump()
    assert re.search(r"^system +\| forever: stopped by SIGTERM$", result.text, re.M), \
        result.dump()
    nothing_left(project)


def test_without_abort_on_exit_a_completed_service_does_not_stop_the_others(
        project: Project, cli: Cli) -> None:
    project.yaml({"forever": {"command": py(FOREVER)},
                  "quick": {"command": py("print('quick done')")}})
    orch = cli.start("up", *TEXT)
    orch.wait_for(r"^system +\| quick: exited rc=0$")
    orch.wait_for(r"^forever +\| forever up$")
    time.sleep(0.5)
    assert orch.proc.poll() is None, orch.output()
    assert "stopping all services" not in orch.output(), orch.output()


@pytest.mark.parametrize("flag", ["-t", "--timeout"])
def test_timeout_before_sigkill(project: Project, cli: Cli, flag: str) -> None:
    project.yaml({
        "stubborn": {"command": py("""
            import signal, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            print('ignoring', flush=True)
            time.sleep(60)
            """), "readiness": {"log": "ignoring"}},
        "fails": {"command": py("import sys; sys.exit(4)"),
                  "depends_on": {"stubborn": {"condition": "ready"}}},
    })
    orch = cli.start("start", *TEXT, flag, "1")
    orch.wait_for(r"^system +\| stubborn: sending SIGTERM")
    sent = time.monotonic()
    result = orch.wait(15)
    elapsed = time.monotonic() - sent
    assert result.rc == 4, result.dump()
    assert re.search(r"^system +\| stubborn: still running 1 s after its stop signal; "
                     r"sending SIGKILL$", result.text, re.M), result.dump()
    assert re.search(r"^system +\| stubborn: stopped by SIGKILL$", result.text, re.M), \
        result.dump()
    assert 0.7 < elapsed < 5, f"{elapsed:.2f} s\n{result.dump()}"   # the default is 10 s
    nothing_left(project)


def test_app_root_is_where_relative_env_files_are_found(project: Project, cli: Cli) -> None:
    app = project.root / "app"
    app.mkdir()
    (app / "Procfile").write_text("web: echo greeting=$GREETING\n")
    (app / "test.env").write_text("GREETING=from-app-root\n")
    (project.root / "test.env").write_text("GREETING=from-cwd\n")
    result = cli.run("start", *TEXT, "-d", "app", "-e", "test.env")
    assert result.rc == 0, result.dump()
    assert result.of("web.1") == ["greeting=from-app-root"], result.dump()
