"""The build pass: raw data → frozen model, with meaning assigned exactly once.

Documents go through the real loader (source → schema → build → checks) in a temporary folder,
so paths, `.env` files and inference see real files.
"""

from __future__ import annotations

import json
import os
import signal
import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest

from orchestra.cli.config_view import MASK, render_spec, spec_data
from orchestra.config.inference import infer_command
from orchestra.config.loader import LoadOptions, load_spec
from orchestra.config.model import CheckKind, Condition, RestartMode, Service, Spec
from orchestra.config.values import parse_duration, parse_host_port, parse_signal
from orchestra.errors import ConfigError, Problem


def load(tmp_path: Path, text: str, files: Mapping[str, str] | None = None,
         environ: Mapping[str, str] | None = None) -> Spec:
    for name, content in (files or {}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content)
    (tmp_path / "orchestra.yaml").write_text(textwrap.dedent(text))
    return load_spec(LoadOptions(cwd=tmp_path, environ=dict(environ or {})))


def problems(tmp_path: Path, text: str, files: Mapping[str, str] | None = None,
             environ: Mapping[str, str] | None = None) -> list[Problem]:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text, files, environ)
    return list(info.value.problems)


def service(tmp_path: Path, body: str, files: Mapping[str, str] | None = None,
            environ: Mapping[str, str] | None = None) -> Service:
    """The one service `web` whose settings are `body` (YAML, indented under it)."""
    text = "services:\n  web:\n" + textwrap.indent(textwrap.dedent(body), "    ")
    return load(tmp_path, text, files, environ).service("web")


# --------------------------------------------------------------------------- argv

ARGV = [
    ("command: echo hi $HOME", ("/bin/sh", "-c", "echo hi $HOME"), True),
    ("command: [echo, hi, $HOME]", ("echo", "hi", "$HOME"), False),
    ("command: echo\nargs: [hi, 'a b']", ("echo", "hi", "a b"), False),
    ("command: ./server --flag\nargs: [x]", ("./server --flag", "x"), False),
    ("command: [python, -m]\nargs: [http.server, '8000']",
     ("python", "-m", "http.server", "8000"), False),
    ("command: echo\nargs: []", ("/bin/sh", "-c", "echo"), True),
]


@pytest.mark.parametrize(("body", "argv", "shell"), ARGV)
def test_argv_normalisation(tmp_path: Path, body: str, argv: tuple[str, ...],
                            shell: bool) -> None:
    web = service(tmp_path, body)
    assert web.argv == argv
    assert web.shell is shell


def test_dir_and_entrypoint_resolve_against_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "api" / "cmd" / "server").mkdir(parents=True)
    other = tmp_path / "elsewhere"
    other.mkdir()
    (tmp_path / "orchestra.yaml").write_text(
        "services:\n  api: {command: x, dir: ./api, entrypoint: cmd/server}\n"
        "  top: {command: y}\n")
    # loaded from another working directory: paths still resolve against the file's folder
    spec = load_spec(LoadOptions(file=tmp_path / "orchestra.yaml", cwd=other, environ={}))
    api, top = spec.services
    assert api.dir == str(tmp_path.resolve() / "api")
    assert api.run_dir == str(tmp_path.resolve() / "api" / "cmd" / "server")
    assert api.entrypoint == "cmd/server"
    assert top.dir == top.run_dir == str(tmp_path.resolve())
    assert os.path.isabs(api.dir) and os.path.isabs(top.dir)


# --------------------------------------------------------------------------- environment

def test_env_layering_order(tmp_path: Path) -> None:
    """orchestra env < project env_file < project env < service env_file < service env."""
    spec = load(tmp_path, """\
        env_file: project.env
        env: {L3: project-env, L4: project-env, L5: project-env}
        services:
          web:
            command: x
            env_file: service.env
            env: {L5: service-env}
        """, files={
        "project.env": "L1=project-file\nL2=project-file\nL3=project-file\n"
                       "L4=project-file\nL5=project-file\n",
        "service.env": "L4=service-file\nL5=service-file\n",
    }, environ={"L0": "os", "L1": "os", "L2": "os"})
    env = dict(spec.service("web").env)
    assert env == {
        "L1": "project-file", "L2": "project-file", "L3": "project-env",
        "L4": "service-file", "L5": "service-env",
    }
    # orchestra's own environment is the lowest layer: the runtime puts it under the model's env
    assert "L0" not in env
    # values from env files are secrets unless a YAML env layer above replaced them
    assert spec.service("web").secret_keys == {"L1", "L2", "L4"}


def test_project_env_file_replaces_the_default_dotenv(tmp_path: Path) -> None:
    web = service(tmp_path, "command: x\n", files={".env": "STRAY=1\n"})
    assert web.env == {"STRAY": "1"}
    (tmp_path / "named.env").write_text("NAMED=1\n")
    spec = load(tmp_path, "env_file: named.env\nservices:\n  web: {command: x}\n")
    assert dict(spec.service("web").env) == {"NAMED": "1"}


def test_env_values_become_text(tmp_path: Path) -> None:
    web = service(tmp_path, "command: x\nenv: {N: 1, F: 1.5, T: true, B: false, S: 'no'}\n")
    assert dict(web.env) == {"N": "1", "F": "1.5", "T": "true", "B": "false", "S": "no"}


def test_env_numbers_keep_the_text_they_were_written_as(tmp_path: Path) -> None:
    """`VERSION: 1.10` means the characters 1.10, not the float 1.1 (compose's trap)."""
    written = {"V": "1.10", "MODE": "0755", "K": "1e3", "OCT": "010", "HEX": "0x1F",
               "HALF": ".5", "O": "0o17", "NEG": "-007", "BIG": "123456789012345678901234567890",
               "INF": ".inf"}
    body = ", ".join(f"{key}: {text}" for key, text in written.items())
    spec = load(tmp_path, f"env: {{TOP: 1.20, {body}}}\n"
                          f"services:\n  web:\n    command: x\n    env: {{{body}}}\n"
                          "    port: 08080\n")
    web = spec.service("web")
    assert {key: web.env[key] for key in written} == written
    assert web.env["TOP"] == "1.20"
    assert web.port == 8080   # a port is still a number


def test_env_file_named_in_yaml_must_exist(tmp_path: Path) -> None:
    (problem,) = problems(tmp_path, "services:\n  web:\n    command: x\n"
                                    "    env_file: [ok.env, missing.env]\n",
                          files={"ok.env": "A=1\n"})
    # the YAML line naming the file, and the file's path in the message
    assert (problem.location.line, problem.location.column) == (4, 24)
    assert problem.field == "services.web.env_file[1]"
    assert f"{tmp_path / 'missing.env'}: no such file" in problem.message


def test_env_file_problem_points_into_the_env_file(tmp_path: Path) -> None:
    (problem,) = problems(tmp_path, "services:\n  web:\n    command: x\n    env_file: bad.env\n",
                          files={"bad.env": "A=1\nB='unterminated\n"})
    assert (problem.location.file, problem.location.line) == (str(tmp_path / "bad.env"), 2)
    assert "cannot parse" in problem.message


def test_env_file_problem_does_not_hide_the_configs_own(tmp_path: Path) -> None:
    found = problems(tmp_path, "services:\n  web:\n    comand: x\n",
                     files={".env": "OK=1\nbad line\n"})
    assert {(Path(p.location.file).name, p.location.line) for p in found} >= {
        (".env", 2), ("orchestra.yaml", 3)}, found


def test_env_file_problem_does_not_hide_the_procfiles_own(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("bad line\n")
    (tmp_path / "Procfile").write_text("web: run\nnot a line\n")
    with pytest.raises(ConfigError) as caught:
        load_spec(LoadOptions(cwd=tmp_path, environ={}))
    assert [(Path(p.location.file).name, p.location.line) for p in caught.value.problems] == [
        (".env", 1), ("Procfile", 2)], caught.value.problems


def test_a_missing_env_file_does_not_hide_a_top_level_problem(tmp_path: Path) -> None:
    (tmp_path / "orchestra.yaml").write_text('env: {A: "1"}\n')
    with pytest.raises(ConfigError) as caught:
        load_spec(LoadOptions(cwd=tmp_path, environ={}, env_files=(Path("missing.env"),)))
    assert [p.message for p in caught.value.problems] == [
        "no such file", "missing required key 'services'"], caught.value.problems


# --------------------------------------------------------------------------- interpolation

def test_interpolation_forms(tmp_path: Path) -> None:
    web = service(tmp_path, """\
        command: "run ${FROM_OS} ${FROM_DOTENV} ${UNSET:-dflt} ${EMPTY-kept} $$HOME $HOME ${PORT}"
        port: 8123
        env:
          NAME: "${ORCHESTRA_SERVICE}"
          INST: "${PS}"
        """, files={".env": "FROM_DOTENV=dot\nEMPTY=\n"}, environ={"FROM_OS": "os"})
    assert web.argv == ("/bin/sh", "-c", "run os dot dflt  $HOME $HOME 8123")
    assert web.env["NAME"] == "web"
    assert web.env["INST"] == "web.1"


def test_dotenv_wins_over_os_environment_in_interpolation(tmp_path: Path) -> None:
    web = service(tmp_path, "command: 'echo ${A}'\n", files={".env": "A=dotenv\n"},
                  environ={"A": "os"})
    assert web.argv[-1] == "echo dotenv"


def test_each_service_sees_its_own_port(tmp_path: Path) -> None:
    spec = load(tmp_path, """\
        services:
          a: {command: "serve ${PORT}", port: 7001}
          b: {command: "serve ${PORT:-none}"}
        """)
    assert spec.service("a").argv[-1] == "serve 7001"
    assert spec.service("b").argv[-1] == "serve none"


def test_interpolation_errors_carry_their_line(tmp_path: Path) -> None:
    found = problems(tmp_path, """\
        services:
          web:
            command: "echo ${MISSING}"
            env:
              A: "${REQUIRED:?set REQUIRED first}"
              B: "${bad name}"
        """)
    where = {(p.field, p.location.line, p.location.column) for p in found}
    assert where == {("services.web.command", 3, 14), ("services.web.env.A", 5, 10),
                     ("services.web.env.B", 6, 10)}
    messages = " | ".join(p.message for p in found)
    assert "variable 'MISSING' is not set" in messages
    assert "set REQUIRED first" in messages


def test_x_keys_are_not_interpolated(tmp_path: Path) -> None:
    spec = load(tmp_path, "x-unused: ${NOT_SET}\nservices:\n  web: {command: x}\n")
    assert spec.names() == ("web",)


# --------------------------------------------------------------------------- values

@pytest.mark.parametrize(("value", "seconds"), [
    ("500ms", 0.5), ("10s", 10.0), ("2m", 120.0), ("1m30s", 90.0), ("1h", 3600.0),
    (3, 3.0), (1.5, 1.5), ("4", 4.0), (0, 0.0),
])
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["", "10 s", "1x", "-1", -1, True, "s", "1m30", float("nan")])
def test_bad_durations(value: object) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(value)


def test_durations_in_yaml(tmp_path: Path) -> None:
    web = service(tmp_path, """\
        command: x
        stop_timeout: 1m30s
        restart: {policy: always, backoff: 500ms}
        readiness: {tcp: 80, interval: 2, timeout: 10s, start_period: 2m, retries: 4}
        """)
    assert web.stop_timeout == 90.0
    assert web.restart.backoff == 0.5
    assert web.readiness is not None
    assert (web.readiness.interval, web.readiness.timeout, web.readiness.start_period,
            web.readiness.retries) == (2.0, 10.0, 120.0, 4)


@pytest.mark.parametrize("value", ["SIGTERM", "TERM", "sigterm", "15", 15])
def test_signals(value: object) -> None:
    assert parse_signal(value) == signal.SIGTERM


@pytest.mark.parametrize("value", ["SIGNOPE", "0", 0, 999, True, None, "SIG"])
def test_bad_signals(value: object) -> None:
    with pytest.raises(ValueError, match="invalid signal"):
        parse_signal(value)


@pytest.mark.parametrize(("text", "expected"), [
    ("stop_signal: SIGINT", signal.SIGINT), ("stop_signal: QUIT", signal.SIGQUIT),
    ("stop_signal: 9", signal.SIGKILL), ("{}", signal.SIGTERM),
])
def test_stop_signal_in_yaml(tmp_path: Path, text: str, expected: signal.Signals) -> None:
    body = "command: x\n" + ("" if text == "{}" else text + "\n")
    assert service(tmp_path, body).stop_signal == expected


# --------------------------------------------------------------------------- restart

@pytest.mark.parametrize(("text", "mode", "max_restarts", "backoff"), [
    ("", RestartMode.NO, None, 1.0),
    ("restart: 'no'", RestartMode.NO, None, 1.0),
    ("restart: false", RestartMode.NO, None, 1.0),
    ("restart: on-failure", RestartMode.ON_FAILURE, None, 1.0),
    ("restart: always", RestartMode.ALWAYS, None, 1.0),
    ("restart: unless-stopped", RestartMode.ALWAYS, None, 1.0),   # compose's spelling
    ("restart: {policy: unless-stopped, max_restarts: 2}", RestartMode.ALWAYS, 2, 1.0),
    ("restart: {policy: on-failure, max_restarts: 5, backoff: 2s}",
     RestartMode.ON_FAILURE, 5, 2.0),
    ("restart: {max_restarts: 0}", RestartMode.NO, 0, 1.0),
    ("restart: {policy: false}", RestartMode.NO, None, 1.0),
])
def test_restart(tmp_path: Path, text: str, mode: RestartMode, max_restarts: int | None,
                 backoff: float) -> None:
    restart = service(tmp_path, f"command: x\n{text}\n").restart
    assert (restart.mode, restart.max_restarts, restart.backoff) == (mode, max_restarts, backoff)


# --------------------------------------------------------------------------- depends_on

def test_depends_on_list_means_started(tmp_path: Path) -> None:
    spec = load(tmp_path, "services:\n  db: {command: x}\n  web: {command: y, depends_on: [db]}\n")
    (dep,) = spec.service("web").depends_on
    assert (dep.service, dep.condition) == ("db", Condition.STARTED)


@pytest.mark.parametrize(("spelling", "condition"), [
    ("started", Condition.STARTED),
    ("service_started", Condition.STARTED),
    ("ready", Condition.READY),
    ("healthy", Condition.READY),
    ("service_healthy", Condition.READY),
    ("completed_successfully", Condition.COMPLETED_SUCCESSFULLY),
    ("service_completed_successfully", Condition.COMPLETED_SUCCESSFULLY),
])
def test_depends_on_condition_aliases(tmp_path: Path, spelling: str,
                                      condition: Condition) -> None:
    spec = load(tmp_path, f"""\
        services:
          db: {{command: x, readiness: {{tcp: 5432}}}}
          web:
            command: y
            depends_on: {{db: {{condition: {spelling}}}, other: {{}}}}
          other: {{command: z}}
        """)
    deps = {d.service: d.condition for d in spec.service("web").depends_on}
    assert deps == {"db": condition, "other": Condition.STARTED}


# --------------------------------------------------------------------------- readiness

READINESS = [
    ("{tcp: 5432}", CheckKind.TCP, {"host": "127.0.0.1", "port": 5432}),
    ("{tcp: '6000'}", CheckKind.TCP, {"host": "127.0.0.1", "port": 6000}),
    ("{tcp: 'db:5432'}", CheckKind.TCP, {"host": "db", "port": 5432}),
    ("{tcp: '[::1]:80'}", CheckKind.TCP, {"host": "::1", "port": 80}),
    ("{http: 'http://127.0.0.1:8000/health'}", CheckKind.HTTP,
     {"url": "http://127.0.0.1:8000/health"}),
    ("{exec: 'pg_isready -q'}", CheckKind.EXEC, {"argv": ("/bin/sh", "-c", "pg_isready -q")}),
    ("{exec: [pg_isready, -q]}", CheckKind.EXEC, {"argv": ("pg_isready", "-q")}),
    ("{log: 'listening on \\d+'}", CheckKind.LOG, {"pattern": r"listening on \d+"}),
    ("{notify: true}", CheckKind.NOTIFY, {}),
]


@pytest.mark.parametrize(("text", "kind", "fields"), READINESS)
def test_readiness_kinds(tmp_path: Path, text: str, kind: CheckKind,
                         fields: dict[str, object]) -> None:
    check = service(tmp_path, f"command: x\nreadiness: {text}\n").readiness
    assert check is not None
    assert check.kind is kind
    for name, value in fields.items():
        assert getattr(check, name) == value
    assert check.describe()


@pytest.mark.parametrize(("text", "line", "column", "fragment"), [
    ("readiness: {http: 'http://:80/'}", 4, 23, "invalid URL 'http://:80/'"),
    ("readiness: {http: 'http://h:99999/'}", 4, 23, "invalid URL"),
    ("readiness: {log: '(['}", 4, 22, "invalid regular expression '(['"),
    ("liveness: {log: 'a)'}", 4, 21, "invalid regular expression"),
    ("readiness: {tcp: 'db:0'}", 4, 22, "out of range"),
])
def test_readiness_errors_have_lines(tmp_path: Path, text: str, line: int, column: int,
                                     fragment: str) -> None:
    found = problems(tmp_path, f"services:\n  web:\n    command: x\n    {text}\n")
    assert len(found) == 1, found
    assert (found[0].location.line, found[0].location.column) == (line, column)
    assert fragment in found[0].message


def test_parse_host_port_forms() -> None:
    assert parse_host_port(80) == ("127.0.0.1", 80)
    assert parse_host_port("localhost:1") == ("localhost", 1)
    with pytest.raises(ValueError):
        parse_host_port("db:65536")


# --------------------------------------------------------------------------- inference

@pytest.mark.parametrize(("files", "argv"), [
    ({"go.mod": "module x\n"}, ("go", "run", ".")),
    ({"go.mod": "module x\n", "vendor/modules.txt": ""}, ("go", "run", "-mod", "vendor", ".")),
    ({"package.json": json.dumps({"scripts": {"start": "node ."}})}, ("npm", "start")),
    ({"__main__.py": ""}, ("python3", ".")),
    ({"package.json": "{}", "__main__.py": ""}, ("python3", ".")),
])
def test_command_inference(tmp_path: Path, files: dict[str, str],
                           argv: tuple[str, ...]) -> None:
    for name, content in files.items():
        (tmp_path / "app" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "app" / name).write_text(content)
    assert infer_command(tmp_path / "app") == argv
    spec = load(tmp_path, "services:\n  app: {dir: app, args: [--flag]}\n")
    assert spec.service("app").argv == (*argv, "--flag")
    assert spec.service("app").shell is False


@pytest.mark.parametrize("files", [
    {},
    {"package.json": json.dumps({"scripts": {"test": "x"}})},
    {"package.json": "not json"},
    {"go.mod/": ""},
])
def test_no_inferable_command_names_the_directory(tmp_path: Path,
                                                  files: dict[str, str]) -> None:
    app = tmp_path / "app"
    app.mkdir()
    for name, content in files.items():
        if name.endswith("/"):
            (app / name).mkdir()
        else:
            (app / name).write_text(content)
    (problem,) = problems(tmp_path, "services:\n  web:\n    dir: app\n")
    assert (problem.field, problem.location.line) == ("services.web", 2)
    assert str(app) in problem.message
    assert "go.mod" in problem.message and "__main__.py" in problem.message


def test_inference_in_a_missing_dir_blames_the_dir(tmp_path: Path) -> None:
    (problem,) = problems(tmp_path, "services:\n  web:\n    dir: nope\n")
    assert (problem.field, problem.location.line, problem.location.column) == (
        "services.web.dir", 3, 10)
    assert "does not exist" in problem.message


# --------------------------------------------------------------------------- rendering

def test_config_masks_env_file_values(tmp_path: Path) -> None:
    spec = load(tmp_path, """\
        services:
          web:
            command: x
            env: {PLAIN: visible, OVERRIDDEN: from-yaml}
        """, files={".env": "SECRET=hunter2\nOVERRIDDEN=file\n"})
    masked = json.loads(render_spec(spec, "json"))
    assert masked["services"]["web"]["env"] == {
        "SECRET": MASK, "PLAIN": "visible", "OVERRIDDEN": "from-yaml"}
    assert "hunter2" not in render_spec(spec, "yaml")
    shown = spec_data(spec, show_env=True)
    assert shown["services"]["web"]["env"]["SECRET"] == "hunter2"  # type: ignore[index]
    assert "hunter2" in render_spec(spec, "yaml", show_env=True)


def test_model_is_frozen(tmp_path: Path) -> None:
    web = service(tmp_path, "command: x\nenv: {A: '1'}\n")
    with pytest.raises(AttributeError):
        web.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        web.env["A"] = "2"  # type: ignore[index]


def test_numbers_may_come_from_variables(tmp_path: Path) -> None:
    """`port: ${WEB_PORT:-8000}` as in compose: the expansion is the number."""
    web = service(tmp_path, """\
        command: x
        port: ${WEB_PORT:-8000}
        replicas: ${N}
        restart: {policy: on-failure, max_restarts: "${MAX:-3}"}
        readiness: {tcp: 1234, retries: "${TRIES:-4}"}
        """, environ={"WEB_PORT": "9000", "N": "2"})
    assert (web.port, web.replicas, web.restart.max_restarts) == (9000, 2, 3)
    assert web.readiness is not None and web.readiness.retries == 4


def test_durations_may_be_plain_numbers_from_variables(tmp_path: Path) -> None:
    web = service(tmp_path, """\
        command: x
        stop_timeout: ${STOP:-10}
        restart: {policy: always, backoff: "${BACKOFF}"}
        readiness: {tcp: 1234, interval: "${IV:-0.5}", timeout: "${TO:-2s}"}
        """, environ={"BACKOFF": "0"})
    assert web.stop_timeout == 10.0 and web.restart.backoff == 0.0
    assert web.readiness is not None
    assert (web.readiness.interval, web.readiness.timeout) == (0.5, 2.0)


@pytest.mark.parametrize("key", ["interval", "timeout"])
def test_a_check_that_would_poll_without_pause_is_an_error(tmp_path: Path, key: str) -> None:
    found = problems(tmp_path, f"services:\n  web:\n    command: x\n"
                               f"    readiness: {{tcp: 1234, {key}: 0}}\n")
    assert [(p.location.line if p.location else None, p.field, p.message) for p in found] == [
        (4, f"services.web.readiness.{key}", f"{key} must be greater than 0")], found


@pytest.mark.parametrize("digits", ["²", "٣٣"])
def test_only_ascii_digits_make_a_number(tmp_path: Path, digits: str) -> None:
    with pytest.raises(ConfigError) as caught:
        service(tmp_path, "command: x\nport: ${WEB_PORT:-8000}\nreplicas: ${N:-2}\n",
                environ={"WEB_PORT": digits, "N": digits})
    fields = {p.field for p in caught.value.problems}
    assert fields == {"services.web.port", "services.web.replicas"}, caught.value.problems


def test_a_number_written_as_a_literal_string_is_still_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        service(tmp_path, 'command: x\nport: "8000"\n')
    assert "services.web.port" in str(caught.value)


def test_a_variable_that_is_not_a_number_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        service(tmp_path, "command: x\nport: ${WEB_PORT}\n", environ={"WEB_PORT": "eighty"})
    assert "services.web.port" in str(caught.value) and "eighty" in str(caught.value)
