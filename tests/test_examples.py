"""The bundled examples are valid, and the quickstart really does what its comments say."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.orch import Orchestra, base_env, wait_no_leftovers

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = sorted([*ROOT.glob("examples/*/orchestra.yaml"), *ROOT.glob("examples/*/Procfile"),
                  ROOT / "Procfile.example"])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_there_are_examples() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in CONFIGS}
    assert {"examples/quickstart/orchestra.yaml", "examples/procfile/Procfile",
            "Procfile.example"} <= names


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_example_passes_check(config: Path, mark: str) -> None:
    result = subprocess.run([sys.executable, "-m", "orchestra", "check", "-f", str(config)],
                            cwd=config.parent, env=base_env(mark), capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("valid: ")


def test_quickstart_runs_in_order_and_stops_cleanly(tmp_path: Path, mark: str) -> None:
    project = tmp_path / "quickstart"
    shutil.copytree(ROOT / "examples" / "quickstart", project,
                    ignore=shutil.ignore_patterns("index.html"))
    port = free_port()
    orch = Orchestra([sys.executable, "-m", "orchestra", "up", "--no-color", "--no-timestamps"],
                     project, base_env(mark, {"WEB_PORT": str(port)}))
    try:
        orch.wait_for(r"worker \| web answered 200: <h1>hello from orchestra</h1>", 30)
        orch.wait_for(r"worker \| tick 1", 10)
        text = orch.output()
        assert text.index("setup: exited rc=0") < text.index("web: started")
        assert text.index("web: ready: http") < text.index("worker: started")
        orch.send(signal.SIGINT)
        result = orch.wait(20)
    finally:
        orch.close()
    assert result.rc == 130, result.text
    assert wait_no_leftovers(mark, 5) == []


def test_devloop_client_finds_the_api_on_its_auto_port(tmp_path: Path, mark: str) -> None:
    project = Path(shutil.copytree(ROOT / "examples" / "devloop", tmp_path / "devloop"))
    orch = Orchestra([sys.executable, "-m", "orchestra", "up", "--no-color", "--no-timestamps",
                      "--exit-code-from", "client"], project, base_env(mark))
    try:
        result = orch.wait(30)
    finally:
        orch.close()
    assert result.rc == 0, result.dump()
    [answer] = result.of("client")
    assert answer.startswith("api answered 200 at http://127.0.0.1:"), answer
    assert result.of("shell") == [], "its profile is not active"


def test_devloop_client_runs_again_when_it_is_edited(tmp_path: Path, mark: str) -> None:
    project = Path(shutil.copytree(ROOT / "examples" / "devloop", tmp_path / "devloop"))
    orch = Orchestra([sys.executable, "-m", "orchestra", "up", "--no-color", "--no-timestamps"],
                     project, base_env(mark))
    try:
        orch.wait_for(r"^client +\| api answered 200 ", 30)
        client = project / "client.py"
        client.write_text(client.read_text().replace("api answered", "api said"))
        orch.wait_for(r"client: client\.py changed; restarting", 15)
        orch.wait_for(r"^client +\| api said 200 ", 15)
        orch.send(signal.SIGINT)
        result = orch.wait(20)
    finally:
        orch.close()
    assert result.rc == 130, result.dump()
    assert wait_no_leftovers(mark, 5) == []
