"""`orchestra export` as honcho and foreman users type it, and its usage errors: one line,
exit 2, nothing written."""

from __future__ import annotations

import os
import pwd
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.export import export, run_cli, write_project
from helpers.orch import base_env
from supervisor.options import ServerOptions

PROCFILE = "web: python3 -m http.server $PORT\nworker: python3 worker.py --queue 'high prio'\n"


def programs(conf: Path, folder: Path) -> dict[str, object]:
    main = folder / "supervisord.conf"
    main.write_text(f"[supervisord]\n[include]\nfiles = {conf}\n")
    options = ServerOptions()
    options.configfile = str(main)
    options.process_config(do_usage=False)
    [group] = options.process_group_configs
    return {p.name: p for p in group.process_configs}


def test_honcho_export_line_writes_dir_app_conf(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "Procfile").write_text(PROCFILE)
    (root / ".env").write_text("TOKEN='s3cret $x'\n")
    out = tmp_path / "etc"
    result = export(root, "supervisord", out, "-a", "myapp", "-c", "web=2", "-p", "6000",
                    "-u", "nobody", "--root", "/srv/myapp")
    assert result.stdout == f"{out}/myapp.conf\n"
    found = programs(out / "myapp.conf", tmp_path)
    assert sorted(found) == ["web.1", "web.2", "worker.1"]
    web2, worker = found["web.2"], found["worker.1"]
    assert shlex.split(web2.command) == ["/bin/sh", "-c", "python3 -m http.server $PORT"]  # type: ignore[attr-defined]
    assert (web2.environment["PORT"], web2.environment["PS"]) == ("6001", "web.2")  # type: ignore[attr-defined]
    assert web2.environment["HONCHO_PROCESS_NAME"] == "web.2"  # type: ignore[attr-defined]
    assert worker.environment["PORT"] == "6100"  # type: ignore[attr-defined]
    assert worker.environment["TOKEN"] == "s3cret $x"  # type: ignore[attr-defined]
    assert worker.directory == "/srv/myapp"  # type: ignore[attr-defined]
    assert worker.uid == pwd.getpwnam("nobody").pw_uid  # type: ignore[attr-defined]
    assert (out / "myapp.conf").stat().st_mode & 0o777 == 0o600


def test_app_defaults_to_the_folder_name_and_nothing_outside_dir_is_written(
        tmp_path: Path) -> None:
    root = tmp_path / "shop"
    write_project(root, {"web": {"command": ["/bin/sleep", "1"]}}, dotenv=None)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    out = tmp_path / "shop" / "deploy" / "units"
    result = export(root, "systemd", out)
    assert result.stdout.splitlines() == [f"{out}/shop.target", f"{out}/shop-web.service"]
    after = sorted(p.name for p in tmp_path.rglob("*"))
    assert sorted(set(after) - set(before)) == ["deploy", "shop-web.service", "shop.target",
                                                "units"]


def test_env_files_and_namespace_select_as_for_up(tmp_path: Path) -> None:
    root = tmp_path / "app"
    write_project(root, {
        "db": {"command": ["/bin/sleep", "9"], "namespace": "data"},
        "api": {"command": ["/bin/sleep", "9"], "namespace": "web", "depends_on": ["db"]},
        "docs": {"command": ["/bin/sleep", "9"]},
    })
    (root / "prod.env").write_text("TOKEN=from prod\n")
    out = tmp_path / "out"
    export(root, "supervisord", out, "--namespace", "web", "-e", "prod.env")
    found = programs(out / "app.conf", tmp_path)
    assert sorted(found) == ["api", "db"]     # the namespace, plus what it depends on
    env = found["api"].environment  # type: ignore[attr-defined]
    assert env["TOKEN"] == "from prod" and "SECRET_QUOTE" not in env   # -e replaces .env


def test_profiles_select_as_for_up(tmp_path: Path) -> None:
    """`--profile` (or $ORCHESTRA_PROFILES) exports the services `up` would start with it;
    an unknown profile is a usage error, as for `up`."""
    root = tmp_path / "app"
    write_project(root, {
        "web": {"command": ["/bin/sleep", "9"]},
        "shell": {"command": ["/bin/sleep", "9"], "profiles": ["debug"]},
    })
    export(root, "supervisord", tmp_path / "plain")
    assert sorted(programs(tmp_path / "plain" / "app.conf", tmp_path)) == ["web"]
    export(root, "supervisord", tmp_path / "debug", "--profile", "debug")
    assert sorted(programs(tmp_path / "debug" / "app.conf", tmp_path)) == ["shell", "web"]
    from_env = subprocess.run(
        [sys.executable, "-m", "orchestra", "export", "supervisord", str(tmp_path / "env")],
        cwd=root, env=base_env("export-test", {"ORCHESTRA_PROFILES": "debug"}),
        capture_output=True, text=True, timeout=60, check=False)
    assert from_env.returncode == 0, from_env.stderr
    assert sorted(programs(tmp_path / "env" / "app.conf", tmp_path)) == ["shell", "web"]
    result = run_cli(root, "export", "supervisord", str(tmp_path / "typo"), "--profile", "dbg")
    assert result.returncode == 2, result.stderr
    assert "unknown profile 'dbg'" in result.stderr and not (tmp_path / "typo").exists()


def test_a_file_with_env_values_is_narrowed_to_0600_and_a_symlink_is_refused(
        tmp_path: Path) -> None:
    root = tmp_path / "app"
    write_project(root, {"web": {"command": ["/bin/sleep", "1"]}})
    out = tmp_path / "out"
    out.mkdir()
    (out / "app.conf").write_text("old")
    os.chmod(out / "app.conf", 0o644)
    export(root, "supervisord", out)
    assert (out / "app.conf").stat().st_mode & 0o777 == 0o600
    (out / "app.conf").unlink()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("")
    (out / "app.conf").symlink_to(elsewhere)
    result = run_cli(root, "export", "supervisord", str(out))
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: cannot write {out}/app.conf: ")
    assert elsewhere.read_text() == ""


@pytest.mark.parametrize(("args", "message"), [
    (("zip", "out"), "error: unknown export format 'zip' (expected systemd, supervisord, "
                     "compose, kubernetes, nomad)"),
    (("systemd", "out", "--image", "x"),
     "error: --image is for compose and kubernetes; systemd runs the commands on the host"),
    (("nomad", "out", "-l", "/var/log"),
     "error: -l/--log is for systemd and supervisord; nomad keeps the services' output "
     "itself"),
    (("supervisord", "out", "--user-units"), "error: --user-units is for systemd"),
    (("systemd", "out", "--user-units", "-u", "deploy"),
     "error: -u/--user names the account of system units; user units (--user-units) run "
     "as their user"),
    (("systemd", "out", "-a", "my app"),
     "error: -a/--app 'my app': an application name is letters, digits, '-' and '_'"),
    (("systemd", "out", "--root", "srv/app"),
     "error: --root 'srv/app': an absolute path on the target is needed"),
    (("systemd", "out", "-l", "logs"),
     "error: -l/--log 'logs': an absolute path on the target is needed"),
    (("systemd", "out", "-p", "70000"), "error: --port 70000 is out of range 1-65535"),
    (("systemd", "out", "wbe"), "error: unknown service 'wbe' (did you mean 'web'?)"),
    (("systemd", "out", "-c", "web=x"),
     "error: invalid formation 'web=x' (expected NAME=COUNT, e.g. web=2)"),
    (("systemd", "out", "-c", "all=0"),
     "error: nothing to export: every selected service has 0 instances (-c)"),
    (("systemd", "out", "-c", "db=0"),
     "error: web depends on db, which has no instance in this export (-c)"),
])
def test_usage_errors_are_one_line_exit_2_and_write_nothing(
        tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    write_project(tmp_path, {"db": {"command": ["/bin/true"]},
                             "web": {"command": ["/bin/true"], "depends_on": ["db"]}},
                  dotenv=None)
    result = run_cli(tmp_path, "export", *args)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines() == [message]
    assert not (tmp_path / "out").exists()


def test_dir_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    write_project(tmp_path, {"web": {"command": ["/bin/true"]}}, dotenv=None)
    (tmp_path / "taken").write_text("")
    for target in ("taken", "taken/units"):
        result = run_cli(tmp_path, "export", "systemd", target)
        assert (result.returncode, result.stdout) == (2, "")
        [line] = result.stderr.splitlines()
        assert line.startswith(f"error: cannot create the folder {target}: ")


def test_a_folder_name_that_is_no_app_name_asks_for_a(tmp_path: Path) -> None:
    root = tmp_path / "my project"
    write_project(root, {"web": {"command": ["/bin/true"]}}, dotenv=None)
    result = run_cli(root, "export", "systemd", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: the project folder's name 'my project': an application name is letters, "
        "digits, '-' and '_' (name it with -a NAME)"]


def test_a_config_error_is_reported_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "orchestra.yaml").write_text("services:\n  web:\n    comand: x\n")
    result = run_cli(tmp_path, "export", "systemd", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {tmp_path}/orchestra.yaml:3:")
    assert not (tmp_path / "out").exists()


def test_help_lists_export_and_its_options(tmp_path: Path) -> None:
    top = run_cli(tmp_path, "--help")
    assert top.returncode == 0 and "export" in top.stdout
    result = run_cli(tmp_path, "export", "--help")
    assert result.returncode == 0
    for option in ("--app", "--user", "--log", "--port", "--image", "--root", "--concurrency",
                   "--user-units", "--namespace", "--env-file", "--file"):
        assert option in result.stdout
