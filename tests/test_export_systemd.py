"""`orchestra export systemd`: accepted by `systemd-analyze verify`, and read back from the
unit dump that verify prints (systemd's own parse of every unit) with the same argv and env."""

from __future__ import annotations

import os
import re
import shutil
import signal
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
    write_project,
)

ANALYZE = shutil.which("systemd-analyze")
pytestmark = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed "
                                                        "(Debian package systemd)")


def verify(folder: Path) -> str:
    """Run verify on every unit; it must pass with nothing on stdout or stderr (it only warns
    about an unknown key); returns its debug output, which dumps each unit."""
    units = sorted(str(p) for p in folder.iterdir() if p.suffix in (".service", ".target"))
    argv = [str(ANALYZE), "verify", "--man=no", "--recursive-errors=no", *units]
    clean = subprocess.run(argv, cwd=folder, capture_output=True, text=True, timeout=60,
                           check=False)
    assert (clean.returncode, clean.stdout, clean.stderr) == (0, "", "")
    debug = subprocess.run(argv, cwd=folder, capture_output=True, text=True, timeout=60,
                           check=False, env={**os.environ, "SYSTEMD_LOG_LEVEL": "debug"})
    assert debug.returncode == 0, debug.stderr
    return debug.stdout + debug.stderr


def dumped_units(dump: str) -> dict[str, dict[str, list[str]]]:
    """`-> Unit NAME:` blocks of the dump: setting → values (Command Line per ExecStart…).
    A value runs on over the lines that do not start with a tab (a value's line break)."""
    units: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    command = ""
    last: list[str] | None = None
    for line in dump.split("\n"):
        unit = re.match(r"\t-> Unit (\S+):$", line)
        if unit:
            current = units.setdefault(unit[1], {})
            continue
        if current is None:
            continue
        if not line.startswith("\t"):
            if last is not None and not line.startswith(("-> ", "Unit ")) and line:
                last[-1] += "\n" + line
            continue
        setting = re.match(r"\t+(-> )?([A-Za-z ]+):(?: (.*))?$", line)
        if not setting:
            continue
        key, value = setting[2], setting[3] or ""
        if setting[1]:
            command = key
            last = None
            continue
        if key == "Command Line":
            key = command
        last = current.setdefault(key, [])
        last.append(value)
    return units


def command_words(line: str) -> list[str]:
    """systemd's quoting of a command line in its dump: bare words, and "..." in which a
    backslash starts a C escape (\\n, \\t, \\xHH) or takes the next character as it is."""
    words: list[str] = []
    i = 0
    while i < len(line):
        if line[i] == " ":
            i += 1
            continue
        word = []
        while i < len(line) and line[i] != " ":
            if line[i] != '"':
                word.append(line[i])
                i += 1
                continue
            i += 1
            while line[i] != '"':
                if line[i] != "\\":
                    word.append(line[i])
                    i += 1
                elif line[i + 1] == "x":
                    word.append(chr(int(line[i + 2:i + 4], 16)))
                    i += 4
                else:
                    word.append({"n": "\n", "t": "\t", "r": "\r"}.get(line[i + 1], line[i + 1]))
                    i += 2
            i += 1
        words.append("".join(word))
    return words


def env_file_values(text: str) -> dict[str, str]:
    """systemd.exec(5)'s EnvironmentFile= form that the export writes: KEY="value" with
    `\\` before `"`, `\\`, `$` and backquote, line breaks kept inside the quotes."""
    values = {}
    for match in re.finditer(r'^([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"$', text,
                             re.MULTILINE | re.DOTALL):
        values[match[1]] = re.sub(r'\\(["\\$`])', r"\1", match[2])
    assert sum(1 for line in text.split("\n") if re.match(r"^[A-Z_]+=", line)) == len(values)
    return values


@pytest.fixture
def exported(tmp_path: Path) -> tuple[Path, dict[str, dict[str, object]]]:
    root = tmp_path / "shop"
    write_project(root, hostile_services(env_any=True, newline_arg=True))
    export(root, "systemd", tmp_path / "units", "-a", "shop", "--root", "/srv/shop 100%")
    return tmp_path / "units", load_model(root)


def test_units_pass_verify_and_keep_argv_env_and_settings(
        exported: tuple[Path, dict[str, dict[str, object]]]) -> None:
    folder, model = exported
    assert sorted(p.name for p in folder.iterdir()) == [
        "shop-db.env", "shop-db.service", "shop-migrate.env", "shop-migrate.service",
        "shop-web.1.env", "shop-web.1.service", "shop-web.2.env", "shop-web.2.service",
        "shop-worker.1.env", "shop-worker.1.service", "shop-worker.2.env",
        "shop-worker.2.service", "shop.target"]
    units = dumped_units(verify(folder))
    db = units["shop-db.service"]
    argv = [dollars_unescaped(w, "ExecStart") for w in command_words(db["ExecStart"][0])]
    assert argv == model["db"]["argv"] == ["/bin/echo", *ARGS, "line one\nline two"]
    env = dict(e.split("=", 1) for e in db["Environment"])
    assert {k: env[k] for k in {**ENV, **ENV_ANY}} == {**ENV, **ENV_ANY}
    assert env["PS"] == "db.1" and env["ORCHESTRA_SERVICE"] == "db"
    assert env["PWD"] == "/srv/shop 100%" and db["WorkingDirectory"] == ["/srv/shop 100%"]
    assert not any(k.startswith("SECRET_") for k in env)   # those are in the env file
    assert db["KillSignal"] == ["SIGINT"] and db["TimeoutStopSec"] == ["3s"]
    assert db["Restart"] == ["on-failure"] and db["RestartSec"] == ["2s"]
    assert db["KillMode"] == ["control-group"]
    web2 = units["shop-web.2.service"]
    assert command_words(web2["ExecStart"][0]) == ["/bin/sh", "-c",
                                                    "echo \"$$PORT\" '100%' $$(date)"]
    web_env = dict(e.split("=", 1) for e in web2["Environment"])
    assert (web_env["PORT"], web_env["PS"]) == ("8001", "web.2")
    migrate = units["shop-migrate.service"]
    assert migrate["Type"] == ["oneshot"] and migrate["RemainAfterExit"] == ["yes"]
    assert units["shop-worker.1.service"]["Restart"] == ["always"]


def test_dependencies_and_types(exported: tuple[Path, dict[str, dict[str, object]]]) -> None:
    folder, _ = exported
    text = (folder / "shop-web.1.service").read_text()
    for dependency in ("shop-migrate.service", "shop-db.service"):
        assert f"After={dependency}\n" in text and f"Requires={dependency}\n" in text
    assert "PartOf=shop.target\n" in text and "WantedBy=shop.target\n" in text
    target = (folder / "shop.target").read_text()
    assert target.count("Wants=") == 6 and "WantedBy=multi-user.target" in target
    db = (folder / "shop-db.service").read_text()
    assert "StartLimitBurst=4\n" in db and "StartLimitIntervalSec=infinity\n" in db


#: os-release keys and the unit specifiers that print them: systemd reads os-release with the
#: same env-file parser as EnvironmentFile=, so a value put under one of these keys and shown
#: through its specifier is a value as systemd's env-file reader reads it.
OS_RELEASE = {"ID": "%o", "VERSION_ID": "%w", "BUILD_ID": "%B", "VARIANT_ID": "%W",
              "IMAGE_ID": "%M", "IMAGE_VERSION": "%A"}


def read_by_systemd(env_file: str, folder: Path) -> dict[str, str]:
    """Each KEY="value" line of `env_file` as systemd's env-file parser reads it: the lines
    go into an os-release file bound over /etc/os-release in a private mount namespace, and
    verify's unit dump shows each value through its specifier."""
    lines = [line for line in re.split(r'\n(?=[A-Z_]+=")', env_file.rstrip("\n"))]
    values: dict[str, str] = {}
    for start in range(0, len(lines), len(OS_RELEASE)):
        chunk = lines[start:start + len(OS_RELEASE)]
        names = [line.split("=", 1)[0] for line in chunk]
        release = folder / f"os-release-{start}"
        release.write_text("".join(f"{key}={line.split('=', 1)[1]}\n"
                                   for key, line in zip(OS_RELEASE, chunk, strict=False)))
        unit = folder / f"probe-{start}.service"
        unit.write_text("[Service]\nExecStart=/bin/true\n" + "".join(
            f'Environment="{name}={spec}"\n'
            for name, spec in zip(names, OS_RELEASE.values(), strict=False)))
        script = (f"mount --bind {release} /etc/os-release && "
                  f"exec {ANALYZE} verify --man=no {unit}")
        result = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                                 script], capture_output=True, text=True, timeout=60,
                                check=False, env={**os.environ, "SYSTEMD_LOG_LEVEL": "debug"})
        if result.returncode != 0 and result.stderr.startswith(("unshare:", "mount:")):
            pytest.skip(f"no private mount namespace here: {result.stderr.strip()[:200]}")
        assert result.returncode == 0, result.stderr
        dumped = dumped_units(result.stdout + result.stderr)[unit.name]["Environment"]
        values.update(entry.split("=", 1) for entry in dumped)
    return values


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="systemd's tools need /proc")
def test_env_file_is_read_back_by_systemds_own_parser(tmp_path: Path) -> None:
    root = tmp_path / "app"
    hostile = SECRETS_ANY
    write_project(root, {"web": {"command": ["/bin/true"]}}, dotenv=dotenv_text(hostile))
    assert load_model(root)["web"]["env"] == hostile   # python-dotenv read them so
    export(root, "systemd", tmp_path / "units")
    env_file = (tmp_path / "units" / "app-web.env").read_text()
    assert read_by_systemd(env_file, tmp_path) == hostile


def test_env_file_holds_the_dotenv_values_owner_only(
        exported: tuple[Path, dict[str, dict[str, object]]]) -> None:
    folder, model = exported
    path = folder / "shop-db.env"
    assert path.stat().st_mode & 0o777 == 0o600
    assert (folder / "shop-db.service").stat().st_mode & 0o777 == 0o644
    secrets = {k: v for k, v in model["db"]["env"].items()  # type: ignore[union-attr]
               if k.startswith("SECRET_")}
    assert len(secrets) == 5
    assert env_file_values(path.read_text()) == secrets
    assert "EnvironmentFile=%E/systemd/system/shop-db.env\n" in (
        folder / "shop-db.service").read_text()


def test_notify_exec_readiness_user_units_and_log(tmp_path: Path) -> None:
    root = tmp_path / "app"
    write_project(root, {
        "api": {"command": ["/bin/sleep", "9"], "readiness": {"notify": True}},
        "queue": {"command": ["/bin/sleep", "9"],
                  "readiness": {"exec": ["/bin/test", "-e", "/tmp/ready file"]}},
        "web": {"command": ["/bin/sleep", "9"],
                "depends_on": {"api": {"condition": "ready"},
                               "queue": {"condition": "ready"}}},
    }, dotenv=None)
    out = tmp_path / "units"
    export(root, "systemd", out, "--user-units", "-l", "/var/log/app 100%")
    units = dumped_units(verify(out))
    assert units["app-api.service"]["Type"] == ["notify"]
    assert units["app-api.service"]["NotifyAccess"] == ["all"]
    post = command_words(units["app-queue.service"]["ExecStartPost"][0])
    assert post[3:] == ["sh", "/bin/test", "-e", "/tmp/ready file"]
    assert "default.target" in (out / "app.target").read_text()
    assert "StandardOutput=append:/var/log/app 100%%/web.log" in (
        out / "app-web.service").read_text()


@pytest.mark.skipif(not hasattr(signal, "SIGRTMIN"), reason="no real-time signals here")
def test_a_real_time_stop_signal_is_named_as_systemd_spells_it(tmp_path: Path) -> None:
    root = tmp_path / "app"
    number = int(signal.SIGRTMIN) + 2
    write_project(root, {"web": {"command": ["/bin/sleep", "9"], "stop_signal": number}},
                  dotenv=None)
    export(root, "systemd", tmp_path / "units")
    units = dumped_units(verify(tmp_path / "units"))
    assert units["app-web.service"]["KillSignal"] == ["SIGRTMIN+2"]
