"""The http check's request against a real local server: a clean `Host`, basic auth from the
URL's credentials, and no password in orchestra's status lines."""

from __future__ import annotations

import asyncio
import base64
import http.server
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.orch import Project, py
from helpers.readiness import TEXT

from orchestra.config.model import CheckKind
from orchestra.config.model_parts import Check
from orchestra.runtime.lifeline import Lifeline
from orchestra.runtime.probes import attempt


class Server:
    """Answers 200 only to a request with the expected Host and Authorization, else 400."""

    def __init__(self, family: socket.AddressFamily, address: str) -> None:
        self.expected: dict[str, str | None] = {}
        self.seen: list[dict[str, str | None]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                got = {"Host": self.headers.get("Host"),
                       "Authorization": self.headers.get("Authorization")}
                outer.seen.append(got)
                self.send_response(200 if got == outer.expected else 400)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        class Family(http.server.ThreadingHTTPServer):
            address_family = family

        self.httpd = Family((address, 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server(socket.AF_INET, "127.0.0.1")
    yield srv
    srv.close()


def probe(url: str, tmp_path: Path) -> tuple[bool, str]:
    check = Check(CheckKind.HTTP, url=url, timeout=5.0)
    return asyncio.run(attempt(check, cwd=tmp_path, env={}, lifeline=Lifeline()))


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(("login", "user", "password"), [
    ("user:pw", "user", "pw"),
    ("us%40er:p%3Aw%2F", "us@er", "p:w/"),   # percent-encoded in the URL, decoded in the header
    ("user", "user", ""),
    ("user:", "user", ""),
])
def test_credentials_become_basic_auth_and_leave_the_host_header(
        server: Server, tmp_path: Path, login: str, user: str, password: str) -> None:
    server.expected = {"Host": f"127.0.0.1:{server.port}",
                       "Authorization": basic(user, password)}
    ok, detail = probe(f"http://{login}@127.0.0.1:{server.port}/health", tmp_path)
    assert (ok, detail) == (True, "answered 200"), server.seen


def test_without_credentials_no_authorization(server: Server, tmp_path: Path) -> None:
    server.expected = {"Host": f"127.0.0.1:{server.port}", "Authorization": None}
    assert probe(f"http://127.0.0.1:{server.port}/", tmp_path) == (True, "answered 200"), \
        server.seen


def test_an_ipv6_host_is_bracketed(tmp_path: Path) -> None:
    try:
        srv = Server(socket.AF_INET6, "::1")
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    try:
        srv.expected = {"Host": f"[::1]:{srv.port}", "Authorization": basic("a", "b")}
        assert probe(f"http://a:b@[::1]:{srv.port}/", tmp_path) == (True, "answered 200"), \
            srv.seen
    finally:
        srv.close()


def test_up_waits_for_an_authenticated_endpoint_and_hides_the_password(
        project: Project, server: Server) -> None:
    server.expected = {"Host": f"127.0.0.1:{server.port}",
                       "Authorization": basic("admin", "s3cret")}
    project.yaml({
        "web": {"command": py("import time; time.sleep(30)"),
                "readiness": {"http": f"http://admin:s3cret@127.0.0.1:{server.port}/",
                              "interval": "100ms"}},
        "app": {"command": py("print('app ran')"), "depends_on": {"web": {"condition": "ready"}},
                "restart": "no"},
    })
    orch = project.start(*TEXT, "app")
    orch.wait_for(r"^app +\| app ran$", timeout=15)
    text = orch.output()
    assert re.search(rf"web: ready: http http://admin:\*\*\*@127\.0\.0\.1:{server.port}/ "
                     r"answered 200", text), text
    assert "s3cret" not in text
