"""`orchestra export supervisord`: read back by supervisor's own config parser, and run by a
real `supervisord -n`, whose programs report the argv and environment they got."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.export import (
    ARGS,
    ENV,
    ENV_ANY,
    export,
    hostile_services,
    load_model,
    run_cli,
    write_project,
    yaml_text,
)
from supervisor.options import ServerOptions

BIN = Path(sys.executable).parent


def parse(config_dir: Path, include: Path) -> ServerOptions:
    """supervisord.conf including the export, parsed as supervisord parses it."""
    conf = config_dir / "supervisord.conf"
    conf.write_text(f"[supervisord]\nlogfile={config_dir}/supervisord.log\n"
                    f"pidfile={config_dir}/supervisord.pid\n"
                    f"[include]\nfiles = {include}/*.conf\n")
    options = ServerOptions()
    options.configfile = str(conf)
    options.process_config(do_usage=False)
    return options


def test_parser_reads_back_argv_env_and_settings(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    write_project(root, hostile_services(env_any=False, newline_arg=False))
    out = tmp_path / "out"
    logs = tmp_path / "log 100%"   # supervisor wants the folder to exist
    logs.mkdir()
    export(root, "supervisord", out, "-a", "shop", "-l", str(logs), "--root", "/srv/shop 100%")
    assert [p.name for p in out.iterdir()] == ["shop.conf"]    # honcho's DIR/APP.conf
    assert (out / "shop.conf").stat().st_mode & 0o777 == 0o600  # .env values inlined
    model = load_model(root)
    options = parse(tmp_path, out)
    [group] = options.process_group_configs
    assert group.name == "shop"
    programs = {p.name: p for p in group.process_configs}
    assert sorted(programs) == ["db", "migrate", "web.1", "web.2", "worker.1", "worker.2"]
    db = programs["db"]
    assert shlex.split(db.command) == model["db"]["argv"] == ["/bin/echo", *ARGS]
    assert db.environment == {**model["db"]["env"], "PYTHONUNBUFFERED": "1",  # type: ignore[dict-item]
                              "ORCHESTRA_SERVICE": "db", "PWD": "/srv/shop 100%",
                              "PS": "db.1"}
    assert db.directory == "/srv/shop 100%"
    assert {k: db.environment[k] for k in ENV} == ENV
    assert (db.stopsignal, db.stopwaitsecs, db.stopasgroup, db.killasgroup) == (
        signal.SIGINT, 3, True, True)
    assert db.startretries == 3 and db.autorestart.__name__ == "RestartWhenExitUnexpected"
    assert db.stdout_logfile == f"{logs}/db.log"
    assert programs["worker.2"].stdout_logfile == f"{logs}/worker.2.log"
    assert programs["web.2"].environment["PORT"] == "8001"
    assert programs["web.2"].environment["PS"] == "web.2"
    assert shlex.split(programs["web.1"].command) == ["/bin/sh", "-c",
                                                      "echo \"$PORT\" '100%' $(date)"]
    # identical replicas: one program with numprocs, each with its own PS
    assert programs["worker.2"].environment["PS"] == "worker.2"
    assert programs["worker.1"].autorestart.__name__ == "RestartUnconditionally"
    assert programs["migrate"].autorestart is False and programs["migrate"].startsecs == 0
    # dependencies first: db → migrate → web, db → worker
    priority = {name: program.priority for name, program in programs.items()}
    assert priority["db"] < priority["migrate"] < priority["web.1"] == priority["web.2"]
    assert priority["db"] < priority["worker.1"]


@pytest.mark.parametrize(("value", "problem"), [
    ("both'\"kinds", "holds both kinds of quote"),
    ('"quoted"', "starts or ends with a quote"),
    ("a ;b", "after whitespace"),
    ("line one\nline two", "holds a line break"),
])
def test_what_supervisor_cannot_carry_is_a_clear_error(tmp_path: Path, value: str,
                                                       problem: str) -> None:
    write_project(tmp_path, {"db": {"command": ["/bin/echo"], "env": {"X": yaml_text(value)}}},
                  dotenv=None)
    result = run_cli(tmp_path, "export", "supervisord", str(tmp_path / "out"))
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("error: supervisord: db: ") and problem in line
    assert not (tmp_path / "out").exists()


def test_a_stop_signal_supervisord_cannot_send_is_a_clear_error(tmp_path: Path) -> None:
    write_project(tmp_path, {"db": {"command": ["/bin/sleep", "9"], "stop_signal": "SIGWINCH"}},
                  dotenv=None)
    result = run_cli(tmp_path, "export", "supervisord", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: supervisord: db's stop signal SIGWINCH is not one supervisord can send "
        "(TERM, HUP, INT, QUIT, KILL, USR1, USR2)"]


REPORT = ("import json, os, sys; "
          "json.dump({'argv': sys.argv[1:], 'env': dict(os.environ), 'cwd': os.getcwd()}, "
          "open(os.environ['REPORT_DIR'] + '/' + os.environ['PS'] + '.json', 'w'))")


def test_real_supervisord_runs_the_programs_with_exact_argv_and_env(tmp_path: Path) -> None:
    root = tmp_path / "app"
    reports = tmp_path / "reports"
    reports.mkdir()
    env = {**ENV, "REPORT_DIR": str(reports)}
    write_project(root, {
        "one": {"command": [sys.executable, "-c", yaml_text(REPORT), *map(yaml_text, ARGS)],
                "env": {k: yaml_text(v) for k, v in env.items()}},
        "two": {"command": [sys.executable, "-c", yaml_text(REPORT)], "replicas": 2,
                "env": {"REPORT_DIR": str(reports)}},
    })
    out = tmp_path / "conf"
    export(root, "supervisord", out, "-a", "app")
    options = parse(tmp_path, out)
    conf = options.configfile
    sock = tmp_path / "s.sock"
    with open(conf, "a") as stream:
        stream.write(f"[unix_http_server]\nfile={sock}\n"
                     "[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = "
                     "supervisor.rpcinterface:make_main_rpcinterface\n"
                     f"[supervisorctl]\nserverurl=unix://{sock}\n")
    daemon = subprocess.Popen([str(BIN / "supervisord"), "-n", "-c", conf],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              process_group=0)
    try:
        wanted = {"one.1.json", "two.1.json", "two.2.json"}
        deadline = time.monotonic() + 30
        while {p.name for p in reports.iterdir()} != wanted and time.monotonic() < deadline:
            time.sleep(0.1)
        assert {p.name for p in reports.iterdir()} == wanted
        status = subprocess.run([str(BIN / "supervisorctl"), "-c", conf, "status"],
                                capture_output=True, text=True, timeout=30, check=False)
        names = sorted(line.split()[0] for line in status.stdout.splitlines())
        assert names == ["app:one", "app:two.1", "app:two.2"], status.stdout
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        try:
            daemon.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait(timeout=10)
        assert daemon.stdout is not None
        daemon.stdout.close()
    one = json.loads((reports / "one.1.json").read_text())
    assert one["argv"] == ARGS
    assert {k: one["env"][k] for k in env} == env
    model = load_model(root)
    secrets = {k: v for k, v in model["one"]["env"].items()  # type: ignore[union-attr]
               if k.startswith("SECRET_")}
    assert secrets and {k: one["env"][k] for k in secrets} == secrets
    assert one["cwd"] == str(root)
    two = json.loads((reports / "two.2.json").read_text())
    assert two["env"]["PS"] == "two.2" and two["env"]["ORCHESTRA_SERVICE"] == "two"
    assert "ENV_ANY" not in one["env"] and set(ENV_ANY).isdisjoint(one["env"])
