"""The schema pass: messages and positions for bad documents, and agreement of the schema with
the model, the docs and its packaged copy."""

from __future__ import annotations

import dataclasses
import json
import re
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from orchestra.config.model import CONDITION_ALIASES, RestartMode, RestartPolicy, Service
from orchestra.config.model_parts import Check
from orchestra.config.schema import dotted, load_schema, validate
from orchestra.config.source import load_yaml_text
from orchestra.errors import Location, Problem

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / "schemas" / "orchestra.schema.json"
PACKAGED_PATH = ROOT / "orchestra" / "config" / "orchestra.schema.json"
DOCS_PATH = ROOT / "docs" / "CONFIG.md"


def check(text: str) -> list[Problem]:
    doc = load_yaml_text(textwrap.dedent(text), "orchestra.yaml")
    return validate(doc.data, doc.source)


# (document, expected line, expected field, fragment of the message)
BAD: list[tuple[str, int, str, str]] = [
    ("version: 2\nservices: {}\n", 1, "version", "unsupported version 2 (expected 1)"),
    # quoted as compose files quote theirs: say what is wrong, not "'1' (expected 1)"
    ("version: '1'\nservices: {}\n", 1, "version",
     "version is the number 1, not the string '1' (write `version: 1`, unquoted)"),
    ("services: {}\nbogus: 1\n", 2, "bogus", "unknown key 'bogus' (expected one of version"),
    ("", 1, "", "expected a mapping with a 'services' key, got null"),
    ("env: {}\n", 1, "", "missing required key 'services'"),
    ("services: []\n", 1, "services", "expected a mapping, got a list"),
    (
        "env: {A: [1]}\nservices: {}\n",
        1,
        "env.A",
        "expected a string, a number or a boolean, got a list",
    ),
    ("env_file: [1]\nservices: {}\n", 1, "env_file[0]", "expected a string, got 1"),
    (
        "services:\n  web:\n    comand: x\n",
        3,
        "services.web.comand",
        "unknown key 'comand' (did you mean 'command'?)",
    ),
    (
        "services:\n  web:\n    environment: {}\n",
        3,
        "services.web.environment",
        "unknown key 'environment' (did you mean 'env'?)",
    ),
    (
        "services:\n  my.web: {}\n",
        2,
        "services.my.web",
        "invalid service name 'my.web' (use letters, digits",
    ),
    (
        "services:\n  web:\n\n    command: 42\n",
        4,
        "services.web.command",
        "expected a string or a list of strings, got 42",
    ),
    (
        "services:\n  web:\n    command: ''\n",
        3,
        "services.web.command",
        "command must not be empty",
    ),
    (
        "services:\n  web:\n    command: []\n",
        3,
        "services.web.command",
        "command must not be an empty list",
    ),
    (
        "services:\n  web:\n    command: [a, 1]\n",
        3,
        "services.web.command[1]",
        "expected a string, got 1",
    ),
    (
        "services:\n  web:\n    args:\n      - a\n      - 7\n",
        5,
        "services.web.args[1]",
        "expected a string, got 7",
    ),
    ("services:\n  web:\n    dir: 5\n", 3, "services.web.dir", "expected a string, got 5"),
    (
        "services:\n  web:\n    namespace: a b\n",
        3,
        "services.web.namespace",
        "invalid namespace 'a b'",
    ),
    (
        "services:\n  web:\n    depends_on:\n      db:\n        condition: sometimes\n",
        5,
        "services.web.depends_on.db.condition",
        "invalid condition 'sometimes' (expected started, ready, completed_successfully",
    ),
    (
        "services:\n  web:\n    depends_on: db\n",
        3,
        "services.web.depends_on",
        "expected a list of service names or a mapping of name to {condition: ...}, got 'db'",
    ),
    (
        "services:\n  web:\n    depends_on: [db, db]\n",
        3,
        "services.web.depends_on",
        "'db' is listed more than once",
    ),
    (
        "services:\n  web:\n    depends_on: [db, x.y]\n",
        3,
        "services.web.depends_on[1]",
        "invalid service name 'x.y'",
    ),
    (
        "services:\n  web:\n    depends_on: {db: {when: ready}}\n",
        3,
        "services.web.depends_on.db.when",
        "unknown key 'when'",
    ),
    (
        "services:\n  web:\n    readiness: {tcp: 1, http: 'http://x'}\n",
        3,
        "services.web.readiness",
        "readiness needs exactly one of tcp, http, exec, log, notify (got tcp, http)",
    ),
    (
        "services:\n  web:\n    readiness: {interval: 1s}\n",
        3,
        "services.web.readiness",
        "readiness needs exactly one of tcp, http, exec, log, notify (got none)",
    ),
    (
        "services:\n  web:\n    readiness: 5432\n",
        3,
        "services.web.readiness",
        "expected a mapping with one of tcp, http, exec, log, notify, got 5432",
    ),
    (
        "services:\n  web:\n    readiness: {tcp: 70000}\n",
        3,
        "services.web.readiness.tcp",
        "port 70000 is out of range 1-65535",
    ),
    (
        "services:\n  web:\n    readiness: {tcp: 'db:'}\n",
        3,
        "services.web.readiness.tcp",
        "invalid tcp address 'db:' (expected PORT or HOST:PORT)",
    ),
    (
        "services:\n  web:\n    readiness: {http: 'ftp://x'}\n",
        3,
        "services.web.readiness.http",
        "invalid URL 'ftp://x'",
    ),
    (
        "services:\n  web:\n    readiness: {exec: [], retries: 1}\n",
        3,
        "services.web.readiness.exec",
        "exec must not be an empty list",
    ),
    (
        "services:\n  web:\n    readiness: {log: ''}\n",
        3,
        "services.web.readiness.log",
        "log must not be empty",
    ),
    (
        "services:\n  web:\n    readiness: {notify: false}\n",
        3,
        "services.web.readiness.notify",
        "notify must be true, got false",
    ),
    (
        "services:\n  web:\n    readiness:\n      tcp: 80\n      retries: -1\n",
        5,
        "services.web.readiness.retries",
        "retries must be at least 0, got -1",
    ),
    (
        "services:\n  web:\n    liveness: {notify: true}\n",
        3,
        "services.web.liveness.notify",
        "notify is a readiness check only",
    ),
    (
        "services:\n  web:\n    liveness: {log: x, interval: 10x}\n",
        3,
        "services.web.liveness.interval",
        "invalid duration '10x' (expected a number of seconds or e.g. 500ms, 10s, 2m)",
    ),
    (
        "services:\n  web:\n    stop_timeout: -1\n",
        3,
        "services.web.stop_timeout",
        "invalid duration -1",
    ),
    (
        "services:\n  web:\n    restart: sometimes\n",
        3,
        "services.web.restart",
        "invalid restart policy 'sometimes' (expected no, on-failure, always, unless-stopped)",
    ),
    (
        "services:\n  web:\n    restart: 5\n",
        3,
        "services.web.restart",
        "expected a policy (no, on-failure, always, unless-stopped) or a mapping with policy, "
        "max_restarts",
    ),
    (
        "services:\n  web:\n    restart: {policy: on-failur}\n",
        3,
        "services.web.restart.policy",
        "invalid restart policy 'on-failur'",
    ),
    (
        "services:\n  web:\n    restart: {max_restarts: -1}\n",
        3,
        "services.web.restart.max_restarts",
        "max_restarts must be at least 0, got -1",
    ),
    (
        "services:\n  web:\n    restart: {backoff: soon}\n",
        3,
        "services.web.restart.backoff",
        "invalid duration 'soon'",
    ),
    (
        "services:\n  web:\n    restart: {polcy: always}\n",
        3,
        "services.web.restart.polcy",
        "unknown key 'polcy' (did you mean 'policy'?)",
    ),
    (
        "services:\n  web:\n    stop_signal: term\n",
        3,
        "services.web.stop_signal",
        "invalid signal 'term' (expected a name such as SIGTERM or TERM",
    ),
    (
        "services:\n  web:\n    stop_signal: 99\n",
        3,
        "services.web.stop_signal",
        "stop_signal 99 is out of range 1-64",
    ),
    (
        "services:\n  web:\n    replicas: 0\n",
        3,
        "services.web.replicas",
        "replicas 0 is out of range 1-10000",
    ),
    (
        "services: {}\n",
        1,
        "services",
        "name at least one service (there is nothing to run)",
    ),
    (
        "services:\n  web:\n    port: 70000\n",
        3,
        "services.web.port",
        "port 70000 is out of range 1-65535",
    ),
    (
        "services:\n  web:\n    port: '8000'\n",
        3,
        "services.web.port",
        "expected an integer 1-65535 or 'auto', got '8000'",
    ),
    (
        "services:\n  web:\n    disabled: 'yes'\n",
        3,
        "services.web.disabled",
        "expected true or false, got 'yes'",
    ),
    ("services:\n  web:\n", 2, "services.web", "expected a mapping of service settings, got null"),
]


@pytest.mark.parametrize(
    ("text", "line", "field", "fragment"),
    BAD,
    ids=[f"{i}-{case[2] or 'root'}" for i, case in enumerate(BAD)],
)
def test_bad_document(text: str, line: int, field: str, fragment: str) -> None:
    problems = check(text)
    matching = [p for p in problems if p.field == field]
    assert len(matching) == 1, problems
    assert fragment in matching[0].message, matching[0].message
    assert matching[0].location.line == line, matching[0]


@pytest.mark.parametrize(("text", "only"), [
    ("service:\n  web: {command: x}\n", "unknown key 'service' (did you mean 'services'?)"),
    ("services:\n  web:\n    command: x\n    liveness: {notify: true}\n",
     "notify is a readiness check only (liveness takes tcp, http, exec or log)"),
])
def test_one_mistake_is_one_message(text: str, only: str) -> None:
    assert [p.message for p in check(text)] == [only]


@pytest.mark.parametrize(("text", "field", "ours"), [
    ("processes: {}\nservices:\n  web: {command: x}\n", "processes", "services"),
    ("services:\n  web: {command: x, stop_grace_period: 5s}\n",
     "services.web.stop_grace_period", "stop_timeout"),
    ("services:\n  web: {command: x, deploy: {replicas: 2}}\n", "services.web.deploy",
     "replicas"),
    ("services:\n  web: {command: x, ready_log_line: up}\n", "services.web.ready_log_line",
     "readiness"),
    ("services:\n  web: {command: x, develop: {watch: []}}\n", "services.web.develop",
     "watch"),
    ("services:\n  web: {command: x, readiness: {tcp: 1, period_seconds: 2}}\n",
     "services.web.readiness.period_seconds", "interval"),
    ("services:\n  web: {command: x, readiness: {tcp: 1, failure_threshold: 2}}\n",
     "services.web.readiness.failure_threshold", "retries"),
    ("services:\n  web: {command: x, readiness: {tcp: 1, initial_delay_seconds: 2}}\n",
     "services.web.readiness.initial_delay_seconds", "start_period"),
    ("services:\n  web: {command: x, readiness: {tcp: 1, timeout_seconds: 2}}\n",
     "services.web.readiness.timeout_seconds", "timeout"),
    ("services:\n  web: {command: x, readiness: {http_get: {port: 80}}}\n",
     "services.web.readiness.http_get", "http"),
    ("services:\n  web: {command: x, restart: {policy: always, backoff_seconds: 2}}\n",
     "services.web.restart.backoff_seconds", "backoff"),
])
def test_the_spellings_migrating_maps_point_at_ours(text: str, field: str, ours: str) -> None:
    """docs/MIGRATING.md maps compose's and process-compose's keys to orchestra's; a file
    carried over with one of them is told the key to use, not a list of every key."""
    messages = [p.message for p in check(text) if p.field == field]
    assert messages == [f"unknown key '{field.rsplit('.', 1)[-1]}' (did you mean '{ours}'?)"]


def test_unknown_key_points_at_the_key_column() -> None:
    (problem,) = check("services:\n  web: {command: x, comand: y}\n")
    assert problem.location == Location("orchestra.yaml", 2, 21)


GOOD = """\
version: 1
env_file: .env
env: {LOG_LEVEL: info, WORKERS: 4, DEBUG: false}
x-common: &common {stop_timeout: 20s}
services:
  db:
    <<: *common
    command: postgres
    args: ["-D", "data"]
    dir: ./db
    env_file: [a.env, b.env]
    namespace: backend
    readiness: {tcp: 5432, interval: 500ms, timeout: 2, start_period: 1m30s, retries: 3}
    liveness: {exec: "pg_isready", x-note: anything}
    x-owner: data-team
  migrate:
    command: [python, manage.py, migrate]
    depends_on: {db: {condition: service_healthy}}
    restart: false
  web:
    command: "gunicorn app:wsgi --bind 0.0.0.0:$PORT"
    depends_on:
      migrate: {condition: completed_successfully}
      db: {}
    port: 8000
    readiness: {http: "http://127.0.0.1:8000/health"}
    restart: {policy: on-failure, max_restarts: 5, backoff: 1s}
    stop_signal: SIGINT
    stop_timeout: 0.5
    replicas: 2
    disabled: false
  api:
    dir: ./services/api
    entrypoint: cmd/server
    depends_on: [db, web]
    readiness: {notify: true}
    liveness: {log: "listening on .*", tcp: "localhost:8080"}
    stop_signal: 2
    restart: always
"""


def test_valid_document_has_no_problems_except_the_planted_one() -> None:
    # the planted problem (liveness with two checks) proves the document was validated at all
    problems = check(GOOD)
    assert [(p.field, p.location.line) for p in problems] == [("services.api.liveness", 37)]


@pytest.mark.parametrize("value", ["10s", "500ms", "2m", "1h", "1m30s", "1.5s", 0, 2.5])
def test_accepted_durations(value: object) -> None:
    assert check(f"services:\n  web: {{stop_timeout: {json.dumps(value)}}}\n") == []


@pytest.mark.parametrize("value", ["10", "1.s", "s", "10 s", "-1s", "1d"])
def test_rejected_durations(value: str) -> None:
    (problem,) = check(f"services:\n  web: {{stop_timeout: {json.dumps(value)}}}\n")
    assert problem.message.startswith(f"invalid duration '{value}'")


@pytest.mark.parametrize("value", ["5432", "db:5432", "[::1]:5432", 1, 65535])
def test_accepted_tcp_addresses(value: object) -> None:
    assert check(f"services:\n  db: {{readiness: {{tcp: {json.dumps(value)}}}}}\n") == []


@pytest.mark.parametrize("condition", sorted(CONDITION_ALIASES))
def test_every_condition_alias_of_the_model_is_accepted(condition: str) -> None:
    assert check(f"services:\n  a: {{depends_on: {{b: {{condition: {condition}}}}}}}\n") == []


def test_every_problem_is_reported_sorted_and_once_per_place() -> None:
    problems = check("""\
        services:
          web:
            port: 0
            readiness: 5
          db:
            comand: x
            replicas: -1
        """)
    assert [(p.location.line, p.field) for p in problems] == [
        (3, "services.web.port"),
        (4, "services.web.readiness"),
        (6, "services.db.comand"),
        (7, "services.db.replicas"),
    ]


def test_huge_values_are_capped_in_messages() -> None:
    problems = check(f"services:\n  web: {{port: '{'9' * 5000}'}}\n")
    assert len(problems) == 1
    assert len(problems[0].message) < 120, problems[0].message
    assert "..." in problems[0].message


class StandInSource:
    """Two methods, as the real source map: proves validate needs nothing else."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, tuple[str | int, ...]]] = []

    def locate(self, path: Sequence[str | int]) -> Location:
        self.asked.append(("value", tuple(path)))
        return Location("ignored", 7, 3)

    def locate_key(self, path: Sequence[str | int]) -> Location:
        self.asked.append(("key", tuple(path)))
        return Location("ignored", 9, 1)


def test_locations_come_from_the_source_map_file_and_all() -> None:
    """The file too: in layered configs each value has its own."""
    source = StandInSource()
    problems = validate({"services": {"w": {"port": "x", "bogus": 1}}}, source)
    assert [str(p) for p in problems] == [
        "ignored:7:3: services.w.port: expected an integer 1-65535 or 'auto', got 'x'",
        "ignored:9:1: services.w.bogus: unknown key 'bogus' (expected one of command, args, dir, "
        "entrypoint, env, env_file, namespace, depends_on, readiness, liveness, restart, "
        "stop_signal, stop_timeout, replicas, port, disabled, profiles, watch, tty; x-* keys "
        "are ignored)",
    ]
    assert sorted(source.asked) == [
        ("key", ("services", "w", "bogus")),
        ("value", ("services", "w", "port")),
    ]


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ((), ""),
        (("services", "web", "args", 2), "services.web.args[2]"),
        (("env_file", 0), "env_file[0]"),
        (("a", 0, 1, "b"), "a[0][1].b"),
    ],
)
def test_dotted(path: tuple[str | int, ...], text: str) -> None:
    assert dotted(path) == text


# --- the schema agrees with its copy, the docs and the model ---------------------------------


def test_packaged_schema_is_identical_to_the_published_one() -> None:
    assert PACKAGED_PATH.read_bytes() == SCHEMA_PATH.read_bytes()
    assert load_schema() == json.loads(SCHEMA_PATH.read_text("utf-8"))


def test_schema_root_identifies_itself() -> None:
    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] and schema["title"] and schema["description"]


def _properties(node: object, where: str = "#") -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every (location, name, subschema) under any properties/patternProperties."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("properties", "patternProperties") and isinstance(value, dict):
                for name, sub in value.items():
                    yield f"{where}/{key}", name, sub
            yield from _properties(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _properties(item, f"{where}/{i}")


def test_every_property_has_a_description() -> None:
    found = list(_properties(load_schema()))
    assert len(found) > 30
    missing = [
        f"{where}/{name}"
        for where, name, sub in found
        if not (isinstance(sub, dict) and sub.get("description"))
    ]
    assert missing == []


def test_every_property_and_condition_is_documented() -> None:
    docs = DOCS_PATH.read_text("utf-8")
    headings = "\n".join(line for line in docs.splitlines() if line.startswith("#"))
    names = {name for _, name, _ in _properties(load_schema()) if not name.startswith("^")}
    names |= set(load_schema()["$defs"]["condition"]["enum"])
    undocumented = sorted(
        n for n in names if f"`{n}`" not in docs and not re.search(rf"\b{n}\b", headings)
    )
    assert undocumented == []


def _defs(name: str) -> dict[str, Any]:
    defs: dict[str, Any] = load_schema()["$defs"]
    return dict(defs[name])


# schema property -> the model field it ends up in
SERVICE_FIELDS = {"command": "argv", "args": "argv", "env_file": "env"}
NOT_FROM_SCHEMA = {"name", "shell", "run_dir", "secret_keys", "location", "instances",
                   "varies_by_instance", "auto_ports"}


def test_service_schema_and_dataclass_agree() -> None:
    properties = set(_defs("service")["properties"])
    fields = {f.name for f in dataclasses.fields(Service)}
    mapped = {SERVICE_FIELDS.get(p, p) for p in properties}
    assert mapped - fields == set(), "schema properties with no model field"
    assert fields - NOT_FROM_SCHEMA - mapped == set(), "model fields no property feeds"
    assert fields >= NOT_FROM_SCHEMA, "the exception list names a field that no longer exists"


CHECK_FIELDS = {
    "tcp": {"host", "port"},
    "http": {"url"},
    "exec": {"argv"},
    "log": {"pattern"},
    "notify": {"kind"},
}


def test_check_schema_and_dataclass_agree() -> None:
    readiness = set(_defs("readiness")["properties"])
    liveness = set(_defs("liveness")["properties"])
    assert readiness - liveness == {"notify"}
    fields = {f.name for f in dataclasses.fields(Check)}
    mapped = set().union(*(CHECK_FIELDS.get(p, {p}) for p in readiness))
    assert mapped == fields


def test_restart_and_condition_schema_agree_with_the_model() -> None:
    restart_object = _defs("restart")["oneOf"][1]["properties"]
    fields = {f.name for f in dataclasses.fields(RestartPolicy)}
    assert {"mode" if p == "policy" else p for p in restart_object} == fields
    modes = _defs("restartMode")["enum"]
    # every mode, plus compose's spelling of one (unless-stopped: always, see config/build.py)
    assert {m for m in modes if m is not False} == {m.value for m in RestartMode} | {
        "unless-stopped"}
    assert set(_defs("condition")["enum"]) == set(CONDITION_ALIASES)
