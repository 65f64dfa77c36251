"""What a config means beyond its shape: masked .env values, interpolated typed keys, real-time
stop signals, disabled dependencies, replica ports, reserved names, the .env PORT base."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from helpers.cli import TEXT, no_traceback
from helpers.cli import run_orchestra as orchestra
from helpers.orch import PY, Orchestra, Project


@pytest.fixture
def cli(project: Project) -> Iterator[list[Orchestra]]:
    started: list[Orchestra] = []
    yield started
    for orch in started:
        orch.close()


def test_dotenv_values_reached_through_interpolation_are_masked(
        project: Project, cli: list[Orchestra]) -> None:
    """`orchestra config` masks values from `.env` files even when they reach another value
    through `${VAR}` (in `env:` or `command:`), in both yaml and json output, as the README
    promises."""
    (project.root / ".env").write_text("DB_PASSWORD=hunter2-secret\n")
    (project.root / "orchestra.yaml").write_text(
        'env:\n  DATABASE_URL: "postgres://app:${DB_PASSWORD}@localhost/app"\n'
        "services:\n"
        '  web: {command: "echo ${DB_PASSWORD}"}\n')
    for fmt in ("yaml", "json"):
        result = orchestra(project, cli, ["config", "--format", fmt])
        assert result.rc == 0, result.dump()
        assert "hunter2-secret" not in result.text, result.dump()


@pytest.mark.parametrize("field", [
    'stop_timeout: "${STOP:-5s}"',
    'readiness: {tcp: "${DB_PORT:-5432}"}',
    'stop_signal: "${STOP_SIGNAL:-SIGINT}"',
])
def test_string_values_of_typed_keys_are_interpolated(
        project: Project, cli: list[Orchestra], field: str) -> None:
    """String values of typed keys (durations, signals, tcp addresses) are interpolated before
    they are validated, as docs/CONFIG.md promises: "String values in orchestra.yaml are
    interpolated once, when the file is loaded"."""
    (project.root / "orchestra.yaml").write_text(
        f'services:\n  web:\n    command: "true"\n    {field}\n')
    result = orchestra(project, cli, ["check"])
    assert result.rc == 0, result.dump()


def test_a_real_time_stop_signal_number_is_accepted(
        project: Project, cli: list[Orchestra]) -> None:
    """A real-time signal number such as 40 is accepted as `stop_signal`, as docs/CONFIG.md
    Signals promises ("or a number from 1 to 64")."""
    (project.root / "orchestra.yaml").write_text(
        'services:\n  web:\n    command: "true"\n    stop_signal: 40\n')
    result = orchestra(project, cli, ["check"])
    assert result.rc == 0, result.dump()


def test_check_reports_a_dependency_on_a_disabled_service(
        project: Project, cli: list[Orchestra]) -> None:
    """`orchestra check` reports a dependency on a disabled service as an error (exit 2) at its
    file:line, as docs/CONFIG.md `disabled` promises ("a service that depends on it is an
    error")."""
    (project.root / "orchestra.yaml").write_text(
        "services:\n"
        '  docs: {command: "true", disabled: true}\n'
        '  web: {command: "true", depends_on: [docs]}\n')
    result = orchestra(project, cli, ["check"])
    assert result.rc == 2, result.dump()
    assert "orchestra.yaml:3:" in result.err.decode(), result.dump()


def test_replica_ports_beyond_65535_are_an_error(project: Project) -> None:
    """Replica ports beyond 65535 (`port: 65535, replicas: 2`) are an error (exit 2), and
    nothing is started."""
    project.yaml({"web": {"command": ["sh", "-c", "echo PORT=$PORT"],
                          "port": 65535, "replicas": 2}})
    result = project.run(*TEXT)
    assert result.rc == 2, result.dump()
    assert "started" not in result.text, result.dump()


@pytest.mark.parametrize("args", [["-p", "70000"], ["-p", "0"], ["-p", "-5"],
                                  ["-t", "nan"]])
def test_out_of_range_cli_values_are_usage_errors(project: Project, args: list[str]) -> None:
    """Out-of-range CLI values (`-p 70000`, `-p 0`, `-p -5`, `-t nan`) are usage errors: exit
    2 with no traceback, and nothing is started."""
    project.procfile("web: echo PORT=$PORT\n")
    result = project.run(*TEXT, *args)
    assert result.rc == 2, result.dump()
    assert "started" not in result.text, result.dump()
    assert no_traceback(result), result.dump()


def test_dotenv_port_is_the_base_port_of_a_procfile(project: Project) -> None:
    """For a Procfile, `PORT` in `.env` is the base port (`-p`, else `.env`, else `$PORT`,
    else 5000), as in honcho and foreman, so orchestra stays a drop-in replacement."""
    project.procfile("web: echo PORT=$PORT\n")
    (project.root / ".env").write_text("PORT=6000\n")
    result = project.run(*TEXT)
    assert result.rc == 0, result.dump()
    assert result.of("web.1") == ["PORT=6000"], result.dump()


def test_a_service_named_system_is_rejected(project: Project) -> None:
    """A service named `system` is refused like any invalid name (exit 2, naming the
    problem): `system` is the pseudo-service of orchestra's own messages (DESIGN §3.3), and a
    service's output must never pass for them."""
    project.yaml({"system": {"command": ["echo", "hello from a service"]}})
    checked = subprocess.run([PY, "-m", "orchestra", "check"], cwd=project.root,
                             env=project.env(), capture_output=True, timeout=30)
    assert checked.returncode == 2, (checked.stdout, checked.stderr)
    assert b"system" in checked.stderr, checked.stderr


@pytest.mark.parametrize(("service", "where", "message"), [
    ('{command: "   "}', "3:18: services.web.command",
     "command is blank: nothing would run"),
    ('{command: "${CMD:- }"}', "3:18: services.web.command",
     "command is blank: nothing would run"),
    ('{command: ["", "x"]}', "3:19: services.web.command[0]",
     "the program must not be empty"),
    ('{command: [" "]}', "3:19: services.web.command[0]",
     "the program must not be empty"),
    ('{command: "true", readiness: {exec: "  "}}', "3:44: services.web.readiness.exec",
     "exec is blank: the check would always pass"),
])
def test_a_blank_command_is_an_error_not_a_service_that_completes_at_once(
        project: Project, cli: list[Orchestra], service: str, where: str,
        message: str) -> None:
    """`sh -c '   '` exits 0: the service would "complete" without running anything, and a
    blank exec check would pass at once."""
    (project.root / "orchestra.yaml").write_text(f"services:\n  x: {{command: sleep 2}}\n"
                                                 f"  web: {service}\n")
    result = orchestra(project, cli, ["up", *TEXT])
    assert result.rc == 2, result.dump()
    assert f"orchestra.yaml:{where}: {message}" in result.err.decode(), result.dump()
    assert "started" not in result.text and no_traceback(result), result.dump()
