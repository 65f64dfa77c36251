"""`port: auto` and discovery: a free port per instance, reserved across concurrent orchestras;
`DB_HOST`/`DB_PORT` for dependents; `${services.NAME.port}` in interpolation."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.cli import TEXT, Cli
from helpers.orch import PY, Project, py

from orchestra.config.ports import PortError, PortReservations, runtime_directory


def _ports(*ports: int) -> object:
    return iter(ports).__next__


@pytest.fixture
def other_orchestra() -> Iterator[subprocess.Popen[bytes]]:
    """A live process whose pid holds reservations, as another orchestra would."""
    child = subprocess.Popen([PY, "-c", "import time; time.sleep(60)"])
    yield child
    child.kill()
    child.wait(timeout=10)


def test_a_port_a_live_orchestra_reserved_is_not_picked_again(
        tmp_path: Path, other_orchestra: subprocess.Popen[bytes]) -> None:
    other = PortReservations(tmp_path, free_port=_ports(5001), pid=other_orchestra.pid)
    assert other.pick(1) == [5001]
    # the kernel hands out 5001 again: it is skipped while its owner lives
    mine = PortReservations(tmp_path, free_port=_ports(5001, 5001, 5002, 5003, 5004))
    assert mine.pick(2, avoid={5003}) == [5002, 5004]
    file = tmp_path / "ports"
    assert file.read_text() == (f"5001 {other_orchestra.pid}\n5002 {os.getpid()}\n"
                                f"5004 {os.getpid()}\n")
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    mine.release()
    assert file.read_text() == f"5001 {other_orchestra.pid}\n"


def test_the_reservations_of_a_dead_orchestra_are_ignored(
        tmp_path: Path, other_orchestra: subprocess.Popen[bytes]) -> None:
    PortReservations(tmp_path, free_port=_ports(5001), pid=other_orchestra.pid).pick(1)
    other_orchestra.kill()
    other_orchestra.wait(timeout=10)
    mine = PortReservations(tmp_path, free_port=_ports(5001))
    assert mine.pick(1) == [5001]
    assert (tmp_path / "ports").read_text() == f"5001 {os.getpid()}\n"


def test_a_folder_that_is_not_private_is_refused(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    (tmp_path / "orchestra-ports").mkdir(mode=0o755)
    os.chmod(tmp_path / "orchestra-ports", 0o755)
    with pytest.raises(PortError, match="is not a private directory"):
        runtime_directory()
    os.chmod(tmp_path / "orchestra-ports", 0o700)
    assert runtime_directory() == tmp_path / "orchestra-ports"


#: Serves its own port number to every connection.
SERVER = py("""
    import os, socket
    port = int(os.environ["PORT"])
    server = socket.create_server(("127.0.0.1", port))
    print("listening", port, flush=True)
    while True:
        connection, _ = server.accept()
        connection.sendall(str(port).encode())
        connection.close()
""")

#: Waits until the other project's client is up too (so both orchestras hold their ports
#: at once), then connects to its dependency and prints what it answered.
CLIENT = py("""
    import os, pathlib, socket, sys, time
    meeting = pathlib.Path(sys.argv[1])
    (meeting / sys.argv[2]).write_text(os.environ["DB_PORT"])
    deadline = time.monotonic() + 15
    while len(list(meeting.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    with socket.create_connection((os.environ["DB_HOST"], int(os.environ["DB_PORT"]))) as s:
        print("db answered", s.recv(16).decode(), "at", os.environ["DB_PORT"],
              "and", sys.argv[3], flush=True)
""")


def test_two_concurrent_ups_get_different_ports_and_their_dependents_connect(
        tmp_path: Path, mark: str) -> None:
    runtime = tmp_path / "runtime"
    meeting = tmp_path / "meeting"
    runtime.mkdir(mode=0o700)
    meeting.mkdir()
    projects = [Project(tmp_path / name, mark) for name in ("one", "two")]
    try:
        for project in projects:
            project.root.mkdir()
            project.yaml({
                "db": {"command": SERVER, "port": "auto",
                       "readiness": {"tcp": "${services.db.port}", "interval": "50ms"}},
                "client": {"command": [*CLIENT, str(meeting), project.root.name,
                                       "${services.db.host}:${services.db.port}"],
                           "depends_on": {"db": {"condition": "ready"}}},
            })
        started = [p.start(*TEXT, "--exit-code-from", "client",
                           env={"XDG_RUNTIME_DIR": str(runtime)}) for p in projects]
        results = [orch.wait(30) for orch in started]
    finally:
        for project in projects:
            project.close()
    ports = []
    for result in results:
        assert result.rc == 0, result.dump()
        [line] = result.of("client")
        words = line.split()
        assert words[:2] == ["db", "answered"] and words[2] == words[4], line
        assert words[6] == f"127.0.0.1:{words[2]}", line
        ports.append(words[2])
    assert ports[0] != ports[1]
    # both released their reservations when they exited
    assert (runtime / "orchestra-ports" / "ports").read_text() == ""


@pytest.fixture
def cli(project: Project) -> Iterator[Cli]:
    runner = Cli(project)
    yield runner
    runner.close()


def test_each_replica_gets_a_port_and_dependents_get_every_one(
        project: Project, cli: Cli) -> None:
    show = "import os; print(*(os.environ.get(k, '-') for k in %r))"
    keys = ["PORT", "WEB_HOST", "WEB_PORT", "WEB_1_PORT", "WEB_2_PORT", "WEB_1_HOST"]
    project.yaml({
        "web": {"command": [PY, "-c", show % keys[:1]], "port": "auto", "replicas": 2},
        "client": {"command": [PY, "-c", show % keys[1:], "${services.web.port}"],
                   "depends_on": ["web"]},
        "alone": {"command": [PY, "-c", show % keys[1:]]},
    })
    result = project.run(*TEXT)
    assert result.rc == 0, result.dump()
    first, second = result.of("web.1")[0], result.of("web.2")[0]
    assert first != second
    assert result.of("client") == [f"127.0.0.1 {first} {first} {second} 127.0.0.1"]
    assert result.of("alone") == ["- - - - -"], "only dependents learn where web is"
    # `config` shows the ports and what each dependent gets
    data = json.loads(cli.run("config", "--format", "json").text)["services"]
    web, client = data["web"], data["client"]
    assert web["port"] == web["auto_ports"][0] != web["auto_ports"][1]
    assert client["argv"][-1] == str(web["port"])
    assert client["discovery"] == {
        "WEB_HOST": "127.0.0.1", "WEB_PORT": str(web["port"]),
        "WEB_1_HOST": "127.0.0.1", "WEB_1_PORT": str(web["auto_ports"][0]),
        "WEB_2_HOST": "127.0.0.1", "WEB_2_PORT": str(web["auto_ports"][1])}


def test_a_users_own_variable_wins_over_discovery(project: Project) -> None:
    project.yaml({
        "db": {"command": "true", "port": 5999},
        "app": {"command": [PY, "-c", "import os; print(os.environ['DB_HOST'], "
                            "os.environ['DB_PORT'])"],
                "env": {"DB_HOST": "db.internal"}, "depends_on": ["db"]},
    })
    result = project.run(*TEXT, env={"DB_PORT": "1"})
    assert result.of("app") == ["db.internal 5999"], result.dump()


def test_a_port_taken_between_pick_and_start_is_reported(project: Project) -> None:
    """The thief starts first (web depends on it) and listens on web's port."""
    thief = py("""
        import socket, sys, time
        server = socket.create_server(("127.0.0.1", int(sys.argv[1])))
        print("took it", flush=True)
        time.sleep(60)   # held until orchestra stops it
    """)
    project.yaml({
        "thief": {"command": [*thief, "${services.web.port}"], "readiness": {"log": "took"}},
        "web": {"command": SERVER, "port": "auto",
                "depends_on": {"thief": {"condition": "ready"}}},
    })
    result = project.run(*TEXT)
    assert result.rc == 1, result.dump()
    assert any("web: cannot start: port" in line and "picked for `port: auto`, was taken by "
               "another process before the service started" in line
               for line in result.of("system")), result.dump()


def test_auto_with_a_fixed_port_is_a_config_error(project: Project, cli: Cli) -> None:
    project.root.joinpath("orchestra.yaml").write_text(
        "services:\n  web:\n    command: x\n    port: auto\n    env:\n      PORT: '80'\n")
    result = cli.run("check")
    assert result.rc == 2, result.dump()
    assert result.err.decode().splitlines()[0] == (
        f"error: {project.root / 'orchestra.yaml'}:6:7: services.web.env.PORT: PORT is fixed "
        "here, but `port: auto` picks this service's port (remove one of the two)")


@pytest.mark.parametrize(("port", "message"), [
    ("'0'", "expected an integer 1-65535 or 'auto', got '0'"),
    ("automatic", "expected an integer 1-65535 or 'auto', got 'automatic'"),
    ("0", "port 0 is out of range 1-65535"),
])
def test_a_port_is_a_number_or_auto(project: Project, cli: Cli, port: str,
                                    message: str) -> None:
    project.root.joinpath("orchestra.yaml").write_text(
        f"services:\n  web:\n    command: x\n    port: {port}\n")
    result = cli.run("check")
    assert result.rc == 2, result.dump()
    assert result.err.decode().splitlines()[0].endswith(f"services.web.port: {message}")


def test_a_service_without_a_port_has_no_address(project: Project, cli: Cli) -> None:
    project.yaml({"web": {"command": "echo ${services.db.port}"}, "db": {"command": "true"}})
    result = cli.run("check")
    assert result.rc == 2, result.dump()
    assert "services.web.command: 'services.db.port': no service 'db' with a port" in \
        result.err.decode(), result.dump()


def test_up_without_ports_never_loads_the_reservations_or_discovery(
        project: Project) -> None:
    project.yaml({"web": {"command": ["true"], "depends_on": ["db"]},
                  "db": {"command": ["true"]}})
    found = subprocess.run([PY, "-X", "importtime", "-m", "orchestra", "up", *TEXT],
                           cwd=project.root, env=project.env(), capture_output=True,
                           timeout=30, check=False)
    assert found.returncode == 0, found.stderr.decode()[-2000:]
    assert b"orchestra.config.ports" not in found.stderr
    assert b"orchestra.discovery" not in found.stderr


def test_run_with_gives_its_command_the_same_variables(project: Project, cli: Cli) -> None:
    project.yaml({"db": {"command": SERVER, "port": "auto",
                         "readiness": {"tcp": "${PORT}", "interval": "50ms"}}})
    result = cli.run("run", "--with", "db", "--", PY, "-c",
                     "import os, socket; s = socket.create_connection((os.environ['DB_HOST'], "
                     "int(os.environ['DB_PORT']))); print('got', s.recv(16).decode(), "
                     "os.environ['DB_PORT'])", merge_stderr=False)
    assert result.rc == 0, result.dump()
    [line] = result.lines
    words = line.split()
    assert words[0] == "got" and words[1] == words[2], line


def test_more_instances_than_ports_picked_is_a_usage_error(project: Project) -> None:
    project.yaml({"web": {"command": "echo $PORT", "port": "auto"}})
    result = project.run(*TEXT, "-c", "web=2")
    assert result.rc == 2, result.dump()
    assert result.err.decode().splitlines() == [
        "error: web: 2 instances asked for, but `port: auto` picked ports for its 1 "
        "(`replicas`); set `replicas: 2`"], result.dump()


def test_auto_through_a_variable_is_refused_clearly(project: Project, cli: Cli) -> None:
    project.root.joinpath("orchestra.yaml").write_text(
        "services:\n  web:\n    command: x\n    port: ${WEB_PORT:-auto}\n")
    result = cli.run("check")
    assert result.rc == 2, result.dump()
    assert result.err.decode().splitlines() == [
        f"error: {project.root / 'orchestra.yaml'}:4:11: services.web.port: write `port: "
        "auto` as it is: it cannot come from a variable (the ports are picked before ${...} "
        "is read)"], result.dump()
