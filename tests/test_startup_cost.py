"""What a cold start does not spend time on (docs/PERFORMANCE.md, "Analysis"): collections
while it imports and reads its config, and modules the run at hand does not need."""

from __future__ import annotations

import http.server
import re
import signal
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.cli import Cli
from helpers.orch import PY, Orchestra, Project, py
from helpers.readiness import TEXT

from orchestra.control.paths import project_name, socket_path
from orchestra.output.style import PALETTE, RESET, SYSTEM_STYLE, colour_for

#: Runs orchestra as the console script does, reporting on stderr whether the garbage
#: collector ran while the config was read, and when the stack (or `run`'s command alone)
#: began to run.
COLLECTOR_PROBE = """
import gc, sys
from orchestra import launch
from orchestra.config import loader
from orchestra.runtime import foreground, orchestrator

def say(where):
    sys.stderr.write(f"collector {where}: {'on' if gc.isenabled() else 'off'}\\n")

load_spec = loader.load_spec
def reading(options):
    say("while reading the config")
    return load_spec(options)
loader.load_spec = reading
import orchestra.cli.up, orchestra.cli.run
orchestra.cli.up.load_spec = orchestra.cli.run.load_spec = reading

def announcing(cls, what):
    run = cls.run
    async def running(self, *args):
        say(f"when {what} runs")
        return await run(self, *args)
    cls.run = running
announcing(orchestrator.Orchestrator, "the stack")
announcing(foreground.ForegroundRun, "the command")
sys.argv = ["orchestra", *sys.argv[1:]]
launch.main()
"""


@pytest.fixture
def started() -> Iterator[list[Orchestra]]:
    runs: list[Orchestra] = []
    yield runs
    for orch in runs:
        orch.close()


@pytest.mark.parametrize(("command", "said"), [
    (["up", "--no-color"], ["while reading the config: off", "when the stack runs: on"]),
    (["run", "--no-color", "--with", "web", "--", "true"],
     ["while reading the config: off", "when the stack runs: on", "when the command runs: on"]),
    (["run", "--no-color", "--", "true"], ["when the command runs: on"]),
    # every other command: resumed before the CLI framework is imported
    (["check"], ["while reading the config: on"]),
])
def test_the_collector_is_paused_while_starting_and_runs_with_the_stack(
        project: Project, started: list[Orchestra], command: list[str],
        said: list[str]) -> None:
    project.procfile("web: echo hi\n")
    orch = Orchestra([PY, "-c", COLLECTOR_PROBE, *command], project.root, project.env())
    started.append(orch)
    result = orch.wait(20)
    assert result.rc == 0, result.dump()
    lines = result.err.decode().splitlines()
    for text in said:
        assert f"collector {text}" in lines, result.dump()


def _imported_modules(project: Project, *args: str) -> set[str]:
    """Every module (full dotted name) that `orchestra up --no-color ARGS` imports."""
    result = subprocess.run([PY, "-X", "importtime", "-m", "orchestra", "up", "--no-color",
                             *args], cwd=project.root, env=project.env(), capture_output=True,
                            timeout=30, check=False)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    return {line.rsplit("|", 1)[1].strip() for line in result.stderr.decode().splitlines()
            if line.startswith("import time:") and "|" in line}


#: Not needed to start and show a plain Procfile's services.
#: (`_ssl` is the module that loads OpenSSL; `ssl` is listed even when its import is refused.)
NOT_FOR_A_PLAIN_RUN = {"colorama", "ctypes", "_ssl", "orchestra.cli.run",
                       "orchestra.runtime.detach", "shlex", "json", "orchestra.control.server",
                       "orchestra.control.protocol", "orchestra.runtime.control_target",
                       # a `tty: true` service's pseudo-terminal (runtime/spawn.py imports it)
                       "orchestra.runtime.terminal", "termios",
                       # what only an orchestra.yaml declares (checks, depends_on, watch)
                       "orchestra.config.model_parts",
                       # only to raise a soft fd limit too low for the plan
                       "resource",
                       # what a control client's requests or a failure need
                       "orchestra.runtime.control_requests", "orchestra.runtime.stack_reports",
                       # paths are str on this path (orchestra/pathnames.py)
                       "pathlib", "urllib.parse", "ipaddress"}


def test_a_plain_procfile_run_imports_only_what_it_uses(project: Project) -> None:
    project.procfile("web: echo hi\n")
    imported = _imported_modules(project)
    assert "asyncio.base_events" in imported   # the premise: the run imported its runtime
    assert imported & NOT_FOR_A_PLAIN_RUN == set()


def test_the_colours_are_the_terminal_palette() -> None:
    """A name's colour must not change between versions: the same SGR codes, in the same
    order, whoever spells them."""
    codes = (36, 33, 32, 35, 34, 31, 96, 93, 92, 95, 94, 91)
    assert [f"\x1b[{code}m" for code in codes] == list(PALETTE)
    assert SYSTEM_STYLE == "\x1b[1m\x1b[37m"
    assert RESET == "\x1b[0m"
    assert colour_for("web") == "\x1b[31m"   # as it always was


class TlsServer:
    """An https server on 127.0.0.1 answering 200, with a certificate made for the test."""

    def __init__(self, folder: Path) -> None:
        self.cert, key = folder / "cert.pem", folder / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", str(key), "-out", str(self.cert), "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True, timeout=60)

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, key)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[TlsServer]:
    server = TlsServer(tmp_path)
    yield server
    server.close()


def test_an_https_check_still_speaks_tls(project: Project, tls_server: TlsServer) -> None:
    """A run with an https check gets asyncio with its TLS support: the check passes against
    a server whose certificate the run trusts (SSL_CERT_FILE), and the dependent starts."""
    url = f"https://127.0.0.1:{tls_server.port}/"
    project.yaml({
        "web": {"command": py("import time; time.sleep(30)"),
                "readiness": {"http": url, "interval": "100ms"}},
        "app": {"command": py("print('app ran')"), "depends_on": {"web": {"condition": "ready"}},
                "restart": "no"},
    })
    orch = project.start(*TEXT, "app", env={"SSL_CERT_FILE": str(tls_server.cert)})
    orch.wait_for(r"^app +\| app ran$", timeout=15)
    text = orch.output()
    assert re.search(rf"web: ready: http {re.escape(url)} answered 200", text), text


def test_a_run_without_an_https_check_imports_no_tls(project: Project) -> None:
    """An http check of a plain http URL (and a tcp one) leaves ssl out; the premise: the
    same run with an https URL imports it."""
    checks = {"readiness": {"tcp": 9, "retries": 1, "interval": "10ms", "timeout": "10ms"}}
    project.yaml({"web": {"command": ["true"], **checks},
                  "api": {"command": ["true"],
                          "liveness": {"http": "http://127.0.0.1:9/", "start_period": "1m"}}})
    assert "_ssl" not in _imported_modules(project)
    project.yaml({"web": {"command": ["true"], **checks},
                  "api": {"command": ["true"],
                          "liveness": {"http": "https://127.0.0.1:9/", "start_period": "1m"}}})
    assert "_ssl" in _imported_modules(project)


def test_a_control_socket_nobody_asked_is_still_claimed_and_removed(
        project: Project, runtime: Path) -> None:
    """The server is started by the first client (runtime/control_socket.py); until then the
    socket is claimed all the same (a second up is refused), and it is removed at the end."""
    cli = Cli(project, {"XDG_RUNTIME_DIR": str(runtime)})
    try:
        project.procfile("web: sleep 30\n")
        up = cli.start("up", *TEXT)
        up.wait_for(r"web\.1: started")
        path = Path(socket_path(project_name(str(project.root)),
                                {"XDG_RUNTIME_DIR": str(runtime)}))
        assert path.exists(), up.output()
        second = cli.run("up", *TEXT, timeout=10)
        assert second.rc != 0 and b"already running" in second.err, second.dump()
        down = cli.run("down")   # the socket's first real request: it starts the server
        assert down.rc == 0, down.dump()
        assert up.wait(10).rc == 0
        assert not path.exists()

        quiet = cli.start("up", *TEXT)   # a run that nobody asks anything
        quiet.wait_for(r"web\.1: started")
        assert path.exists(), quiet.output()
        quiet.send(signal.SIGTERM)
        assert quiet.wait(10).rc == 143
        assert not path.exists()
    finally:
        cli.close()
