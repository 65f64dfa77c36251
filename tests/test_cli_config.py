"""`orchestra check`, `config`, `version` and `--help`, run as real subprocesses in temp folders.

What matters is what a user sees: the summary line, one `error: FILE:LINE:COL: ...` line per
problem, exit code 2 for any config or usage mistake, and never a traceback.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.orch import Project

from orchestra import __version__

TIMEOUT = 30
ERROR_LINE = re.compile(r"^error: (?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<rest>.+)$")


def orchestra(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("ORCHESTRA_FILE", "PROCFILE", "PORT", "ORCHESTRA_PROFILES")}
    env.update(NO_COLOR="1", COLUMNS="200", TERM="dumb")
    result = subprocess.run([sys.executable, "-m", "orchestra", *args], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert "Traceback" not in result.stderr, result.stderr
    return result


VALID = """\
services:
  db:
    command: postgres
    readiness: {tcp: 5432}
  migrate:
    command: [python, manage.py, migrate]
    depends_on: {db: {condition: ready}}
  web:
    command: gunicorn app --bind :$PORT
    depends_on: {migrate: {condition: completed_successfully}}
    port: 8000
"""


def test_check_valid_yaml(tmp_path: Path) -> None:
    (tmp_path / "orchestra.yaml").write_text(VALID)
    result = orchestra(tmp_path, "check")
    assert (result.returncode, result.stdout, result.stderr) == (
        0, "valid: 3 services (db, migrate, web)\n", "")


def test_check_procfile_speaks_honcho_on_stderr(tmp_path: Path) -> None:
    (tmp_path / "Procfile").write_text("web: python -m http.server $PORT\nworker: python w.py\n")
    result = orchestra(tmp_path, "check")
    assert result.returncode == 0
    assert result.stdout == "valid: 2 services (web, worker)\n"
    assert result.stderr == "Valid procfile detected (web, worker)\n"


def test_check_named_file_and_env(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "dev.yml").write_text("services:\n  web: {command: 'echo ${A}'}\n")
    (tmp_path / "a.env").write_text("A=1\n")
    missing = orchestra(tmp_path, "check", "-f", "conf/dev.yml")
    assert missing.returncode == 2
    assert "variable 'A' is not set" in missing.stderr
    result = orchestra(tmp_path, "check", "-f", "conf/dev.yml", "-e", "a.env")
    assert (result.returncode, result.stdout) == (0, "valid: 1 service (web)\n")


@pytest.mark.parametrize("name", ["Dev.YAML", "dev.Yml"])
def test_a_yaml_file_is_yaml_whatever_the_case_of_its_suffix(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("services:\n  web: {command: x}\n")
    result = orchestra(tmp_path, "check", "-f", name)
    assert (result.returncode, result.stdout) == (0, "valid: 1 service (web)\n"), result


def test_config_shows_what_each_replica_has_of_its_own(tmp_path: Path) -> None:
    (tmp_path / "orchestra.yaml").write_text(
        "services:\n  web:\n    command: 'echo ${PS}'\n    port: 8300\n    replicas: 2\n"
        "    readiness: {tcp: '${PORT}'}\n")
    result = orchestra(tmp_path, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    web = json.loads(result.stdout)["services"]["web"]
    assert web["argv"][-1] == "echo web.1" and web["readiness"]["port"] == 8300
    second = web["instances"]["web.2"]
    assert second["argv"][-1] == "echo web.2" and second["readiness"]["port"] == 8301
    assert set(second) == {"argv", "readiness"}, second


def test_check_and_config_take_up_s_base_port(tmp_path: Path) -> None:
    """A file that relies on `up -p` for ${PORT} checks with the same -p."""
    (tmp_path / "orchestra.yaml").write_text(
        "services:\n  web: {command: [echo, '${PORT}'], replicas: 2}\n")
    assert orchestra(tmp_path, "check").returncode == 2
    assert orchestra(tmp_path, "check", "-p", "7000").returncode == 0
    shown = json.loads(orchestra(tmp_path, "config", "-p", "7000", "--format", "json").stdout)
    web = shown["services"]["web"]
    assert web["argv"] == ["echo", "7000"] and web["instances"]["web.2"]["argv"] == ["echo", "7001"]


def test_broken_file_lists_every_problem(tmp_path: Path) -> None:
    (tmp_path / "orchestra.yaml").write_text(
        "services:\n  web:\n    comand: x\n  db:\n    command: y\n    restart: sometimes\n"
        "    stop_timeout: soon\n")
    result = orchestra(tmp_path, "check")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 3
    assert lines[-1] == "3 problems; nothing was started"
    for line in errors:
        match = ERROR_LINE.match(line)
        assert match, line
        assert match["file"] == str(tmp_path / "orchestra.yaml")
    assert [ERROR_LINE.match(line)["line"] for line in errors] == ["3", "6", "7"]  # type: ignore[index]
    assert "services.web.comand: unknown key 'comand' (did you mean 'command'?)" in errors[0]


def test_check_problems_after_build(tmp_path: Path) -> None:
    (tmp_path / "orchestra.yaml").write_text(
        "services:\n  web: {command: x, depends_on: [dbb]}\n  db: {command: y}\n")
    result = orchestra(tmp_path, "check")
    assert result.returncode == 2
    assert result.stderr == (f"error: {tmp_path / 'orchestra.yaml'}:2:34: "
                             "services.web.depends_on: unknown service 'dbb' "
                             "(did you mean 'db'?)\n")


@pytest.mark.parametrize(("setup", "args", "fragment"), [
    (lambda d: None, ("check", "-f", "missing.yaml"), "missing.yaml: no such file"),
    (lambda d: (d / "conf.yaml").mkdir(), ("check", "-f", "conf.yaml"), "is a directory"),
    (lambda d: (d / "Procfile").mkdir(), ("check",), "is a directory"),
    (lambda d: None, ("check",), "no orchestra.yaml, orchestra.yml or Procfile here"),
    (lambda d: (d / "orchestra.yaml").write_bytes(b"services:\n  web: {command: \xff}\n"),
     ("check",), "orchestra.yaml:2:18: not valid UTF-8 (byte 0xff)"),
    (lambda d: (d / "orchestra.yaml").write_bytes(b"services:\n  web: {command: \x00}\n"),
     ("check",), "orchestra.yaml:2:18: invalid YAML: character U+0000 is not allowed"),
    (lambda d: (d / "orchestra.yaml").write_text("services: !!python/object:os.system {}\n"),
     ("check",), "orchestra.yaml:1:11: unsupported YAML tag"),
    (lambda d: (d / "Procfile").write_text("web: x\n"), ("check", "-e", "nope.env"),
     "nope.env: no such file"),
    (lambda d: (d / "Procfile").write_text("web: x\n"), ("config", "--format", "xml"),
     "invalid --format 'xml' (expected yaml or json)"),
])
def test_user_mistakes_exit_2_with_one_line_each(tmp_path: Path, setup: object,
                                                 args: tuple[str, ...], fragment: str) -> None:
    setup(tmp_path)  # type: ignore[operator]
    result = orchestra(tmp_path, *args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert fragment in result.stderr


@pytest.mark.parametrize("args", [("check", "--bogus"), ("config", "--format"), ("nope",),
                                  ("check", "extra-argument")])
def test_bad_command_lines_exit_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = orchestra(tmp_path, *args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr


def test_config_json_masks_dotenv_values(tmp_path: Path) -> None:
    (tmp_path / "orchestra.yaml").write_text(
        "services:\n  web: {command: x, env: {PLAIN: shown}}\n")
    (tmp_path / ".env").write_text("TOKEN=hunter2\n")
    masked = orchestra(tmp_path, "config", "--format", "json")
    assert masked.returncode == 0, masked.stderr
    assert "hunter2" not in masked.stdout
    data = json.loads(masked.stdout)
    web = data["services"]["web"]
    assert web["env"] == {"PLAIN": "shown", "TOKEN": "***"}
    assert web["argv"] == ["x"]   # a plain string: exec'd without the shell
    assert web["cwd"] == str(tmp_path.resolve())
    shown = orchestra(tmp_path, "config", "--format", "json", "--show-env")
    assert json.loads(shown.stdout)["services"]["web"]["env"]["TOKEN"] == "hunter2"


def test_config_yaml_is_the_default_and_masks_too(tmp_path: Path) -> None:
    (tmp_path / "Procfile").write_text("web: echo $SECRET\n")
    (tmp_path / ".env").write_text("SECRET=hunter2\n")
    result = orchestra(tmp_path, "config")
    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout
    assert "SECRET: '***'" in result.stdout
    assert "kind: procfile" in result.stdout


def test_config_of_a_broken_file_prints_nothing_on_stdout(tmp_path: Path) -> None:
    (tmp_path / "orchestra.yaml").write_text("services:\n  web: {}\n")
    result = orchestra(tmp_path, "config", "--format", "json")
    assert result.returncode == 2
    assert result.stdout == ""
    assert ERROR_LINE.match(result.stderr.splitlines()[0])


@pytest.mark.parametrize("args", [("version",), ("--version",), ("-f", "x.yaml", "--version")])
def test_version(tmp_path: Path, args: tuple[str, ...]) -> None:
    """`--version` too, as every other tool spells it (answered before any config is read)."""
    result = orchestra(tmp_path, *args)
    assert (result.returncode, result.stdout) == (0, f"orchestra {__version__}\n")


@pytest.mark.parametrize("command", ["check", "config", "version", "up", "start"])
def test_help_of_every_command(tmp_path: Path, command: str) -> None:
    result = orchestra(tmp_path, command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout
    assert "--help" in result.stdout


SHORT_FLAGS = re.compile(r"^│ --[\w-]+(?:,--[\w-]+)*\s+(-\w(?:,-\w)*)\s")


@pytest.mark.parametrize("command", [
    "up", "start", "run", "ps", "logs", "restart", "stop", "down", "attach", "tui", "check",
    "config", "graph", "export"])
def test_no_short_flag_names_two_options(tmp_path: Path, command: str) -> None:
    """A letter that names two options of one command does only one of the two things its
    help promises (`logs -f` is --follow, so it cannot also be the config file)."""
    result = orchestra(tmp_path, command, "--help")
    assert result.returncode == 0, result.stderr
    shorts = [flag for line in result.stdout.splitlines()
              if (match := SHORT_FLAGS.match(line)) for flag in match.group(1).split(",")]
    assert "-h" in shorts, result.stdout
    assert sorted(flag for flag in set(shorts) if shorts.count(flag) > 1) == [], result.stdout


def test_top_level_help_lists_the_commands(tmp_path: Path) -> None:
    result = orchestra(tmp_path, "--help")
    assert result.returncode == 0
    for command in ("check", "config", "version", "up"):
        assert command in result.stdout


def _broken_too_early(text: str) -> list[str]:
    """Lines of a help text that end before a word that would have fitted on them: the mark
    of a line break kept from a docstring, which rich then wraps again mid-sentence. Checked
    in the prose outside the boxes and in the Commands box (a new row, or typer's
    `[env var: ...]`, starts a line of its own on purpose)."""
    found = []
    lines = text.splitlines()
    in_commands = False
    for line, after in itertools.pairwise(lines):
        if line.startswith("╭"):
            in_commands = line.startswith("╭─ Commands")
        if not line.strip() or not after.strip():
            continue
        if line.startswith(" ") and after.startswith(" "):
            word = after.split()[0]
            room = (len(line) - 1) - len(line.rstrip())
        elif in_commands and line.startswith("│") and after.startswith("│ "):
            inner = after[1:-1]
            word = inner.split()[0]
            if len(inner) - len(inner.lstrip()) < 3 or word.startswith("["):
                continue   # a new row
            room = (len(line) - 2) - len(line[:-1].rstrip())
        else:
            continue
        if room >= len(word) + 1:
            found.append(f"{line.rstrip()!r} has room for {word!r}")
    return found


@pytest.mark.parametrize("command", [
    "", "up", "start", "run", "ps", "logs", "restart", "stop", "down", "tui", "check",
    "config", "graph", "version", "export"])
def test_help_wraps_only_where_an_80_column_terminal_ends(tmp_path: Path, command: str) -> None:
    """`--help` in an 80-column terminal: each paragraph wraps where the line is full, not
    where the docstring's source line ended, and no long word is cut off with an ellipsis."""
    env = {k: v for k, v in os.environ.items() if k not in ("ORCHESTRA_FILE", "PROCFILE")}
    env.update(NO_COLOR="1", COLUMNS="80", TERM="dumb")
    result = subprocess.run([sys.executable, "-m", "orchestra", *filter(None, [command]),
                             "--help"], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=TIMEOUT, check=False)
    assert result.returncode == 0, result.stderr
    assert max(map(len, result.stdout.splitlines())) <= 80, result.stdout
    assert _broken_too_early(result.stdout) == [], result.stdout
    assert "…" not in result.stdout, result.stdout


def test_control_characters_in_names_are_escaped_in_messages(tmp_path: Path) -> None:
    """A service name with an escape sequence must not recolour or erase the terminal when
    its error is printed: every control character is shown escaped."""
    (tmp_path / "orchestra.yaml").write_text(
        'services:\n  "we\\e[31mb":\n    command: echo\n    depends_on: ["d\\e[2K\\tx"]\n')
    result = orchestra(tmp_path, "check")
    assert result.returncode == 2, result.stderr
    assert "\x1b" not in result.stderr and "\t" not in result.stderr, result.stderr
    assert "services.we\\x1b[31mb: invalid service name 'we\\x1b[31mb'" in result.stderr
    assert "unknown service 'd\\x1b[2K\\tx'" in result.stderr
    result = orchestra(tmp_path, "up", "--exit-code-from", "x\x1b[2J")
    assert result.returncode == 2 and "\x1b" not in result.stderr, result.stderr


def test_config_shows_the_argv_that_runs(project: Project) -> None:
    """A plain shell string (`sleep 30`: no shell syntax, not a builtin) is exec'd without
    /bin/sh, so `config` shows it split, with `shell: false`, and exactly that argv is the
    running process's command line; a string that needs the shell, or names a builtin, shows
    and runs as `/bin/sh -c`. Exec checks are shown the same way."""
    project.yaml({
        "plain": {"command": "sleep 30", "readiness": {"exec": "sleep 0"}},
        "shell": {"command": "sleep 31; exit 0", "readiness": {"exec": "true"}},
        "builtin": {"command": "exec sleep 32"},
    })
    shown = json.loads(orchestra(project.root, "config", "--format", "json").stdout)["services"]
    assert (shown["plain"]["argv"], shown["plain"]["shell"]) == (["sleep", "30"], False)
    assert shown["plain"]["readiness"]["argv"] == ["sleep", "0"]
    assert (shown["shell"]["argv"], shown["shell"]["shell"]) == (
        ["/bin/sh", "-c", "sleep 31; exit 0"], True)
    assert shown["shell"]["readiness"]["argv"] == ["/bin/sh", "-c", "true"]
    assert (shown["builtin"]["argv"], shown["builtin"]["shell"]) == (
        ["/bin/sh", "-c", "exec sleep 32"], True)
    orch = project.start("--no-timestamps", "--no-color")
    try:
        for name in ("plain", "shell"):
            pid = int(orch.wait_for(rf"{name}: started pid=(\d+)", timeout=15)[1])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
            assert [part.decode() for part in cmdline] == shown[name]["argv"], name
    finally:
        orch.send(signal.SIGINT)
    assert orch.wait(20).rc == 130
