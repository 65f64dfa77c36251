"""Hostile orchestra.yaml files never escape the loader as anything but `ConfigError`.

Anything else (a KeyError in build, a TypeError in checks, a RecursionError) would reach the user
as a traceback from `orchestra check`. Inputs are random bytes and YAML-ish text assembled from
the schema's own keys, typed scalars, nesting, anchors, aliases, merge keys and tags, so most
examples get past the parser and exercise the later passes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestra.config.loader import LoadOptions, load_spec
from orchestra.config.model import Spec
from orchestra.errors import ConfigError

FUZZ = settings(deadline=None, max_examples=200,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

KEYS = [
    "version", "env_file", "env", "services", "x-base", "web", "db", "command", "args", "dir",
    "entrypoint", "namespace", "depends_on", "readiness", "liveness", "restart", "stop_signal",
    "stop_timeout", "replicas", "port", "disabled", "condition", "tcp", "http", "exec", "log",
    "notify", "interval", "timeout", "retries", "start_period", "policy", "max_restarts",
    "backoff", "PORT", "A", "<<", "bogus",
]
SCALARS = [
    "1", "0", "-1", "65536", "1.5", ".nan", "-.inf", "true", "false", "no", "~", "null", "''",
    "x", "web", "db", ".", "..", "/", "nope", "echo hi", "'${A}'", "'${A:-d}'", "'${X?m}'",
    "'${'", "$$", "'$PORT'", "500ms", "1m30s", "SIGTERM", "TERM", "15", "ready",
    "service_healthy", "completed_successfully", "on-failure", "always", "'db:5432'",
    "'http://127.0.0.1:1/'", "'http://:0/'", "'(['", "'\\d+'", "2001-12-14", "0o17", "0x1f",
    '"\\0"', '"\\ud800"', "'a\tb'", "é", "\"\\n\"",
]
TAGS = ["", "", "", "!!str ", "!!int ", "!!float ", "!!bool ", "!!null ", "!!map ", "!!seq ",
        "!!python/object/apply:os.system ", "!x ", "!!binary ", "!!merge "]
ANCHORS = ["a", "b"]


def _scalar() -> st.SearchStrategy[str]:
    return st.builds(lambda tag, text: tag + text, st.sampled_from(TAGS), st.sampled_from(SCALARS))


def _flow(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A flow list or mapping of `children`, maybe anchored, or an alias."""
    items = st.lists(children, max_size=4)
    pairs = st.lists(st.tuples(st.sampled_from(KEYS), children), max_size=4)
    flow_list = items.map(lambda xs: "[" + ", ".join(xs) + "]")
    flow_map = pairs.map(lambda kv: "{" + ", ".join(f"{k}: {v}" for k, v in kv) + "}")
    anchored = st.builds(lambda name, tag, body: f"&{name} {tag}{body}",
                         st.sampled_from(ANCHORS), st.sampled_from(["", "", "!!map "]),
                         st.one_of(flow_list, flow_map))
    alias = st.sampled_from(ANCHORS).map(lambda name: f"*{name}")
    return st.one_of(flow_list, flow_map, anchored, alias)


FLOW = st.recursive(_scalar(), _flow, max_leaves=25)


def _block(depth: int) -> st.SearchStrategy[str]:
    """Block-style lines under the schema's keys, with flow values at the leaves."""
    indent = "  " * depth
    leaf = st.builds(lambda k, v: f"{indent}{k}: {v}\n", st.sampled_from(KEYS), FLOW)
    if depth >= 3:
        return st.lists(leaf, min_size=1, max_size=4).map("".join)
    nested = st.builds(lambda k, anchor, body: f"{indent}{k}:{anchor}\n{body}",
                       st.sampled_from(KEYS), st.sampled_from(["", "", " &a", " &b"]),
                       st.deferred(lambda: _block(depth + 1)))
    items = st.builds(lambda v: f"{indent}- {v}\n", FLOW)
    return st.lists(st.one_of(leaf, nested, items), min_size=1, max_size=5).map("".join)


#: For each service key, values that are valid (the first `GOOD[key]` entries) and values that
#: are not; valid ones are drawn more often so that many documents reach build and checks.
SERVICE_VALUES = {
    "command": ["x", "'echo ${A}'", "[python, -V]", "'$$HOME ${PORT:-1}'",
                "'echo ${NOPE}'", "[]", "''"],
    "args": ["[a, b]", "[]", "a"],
    "dir": [".", "sub", "nope", "'${A}'"],
    "entrypoint": [".", "cmd"],
    "env": ["{A: '1'}", "{B: 1, C: true}", "*e", "{'': x}"],
    "env_file": [".env", "[.env, .env]", "missing.env"],
    "namespace": ["backend", "'a.b'"],
    "depends_on": ["[db]", "{db: {condition: ready}}",
                   "{migrate: {condition: service_completed_successfully}}", "[web]", "[dbb]",
                   "[web, db, migrate]", "{web: {}}", "{db: {condition: sometimes}}"],
    "readiness": ["{tcp: 5432}", "{http: 'http://127.0.0.1:1/'}", "{exec: 'true'}",
                  "{log: ok}", "{notify: true}", "{tcp: 'db:0'}", "{http: 'http://:1/'}",
                  "{log: '(['}", "{tcp: 1, http: 'http://h/'}", "{interval: 1s}"],
    "liveness": ["{exec: [x]}", "{tcp: '80', retries: 2}", "{notify: true}"],
    "restart": ["always", "'no'", "false", "{policy: on-failure, max_restarts: 2, backoff: 1m}",
                "{backoff: x}", "sometimes"],
    "stop_signal": ["SIGINT", "TERM", "15", "'15'", "SIGNOPE", "0"],
    "stop_timeout": ["1m30s", "2", "-1", ".nan", "soon"],
    "replicas": ["1", "3", "0"],
    "port": ["8000", "0", "'${A}'"],
    "disabled": ["true", "no"],
    "<<": ["*s", "*e"],
    "bogus": ["1"],
}
GOOD = {"command": 4, "args": 2, "dir": 2, "entrypoint": 1, "env": 3, "env_file": 2,
        "namespace": 1, "depends_on": 3, "readiness": 5, "liveness": 2, "restart": 4,
        "stop_signal": 3, "stop_timeout": 2, "replicas": 2, "port": 1, "disabled": 1, "<<": 1,
        "bogus": 0}
SERVICE_NAMES = ["web", "db", "migrate", "w.1"]


def _value(key: str) -> st.SearchStrategy[str]:
    values = SERVICE_VALUES[key]
    good = values[: GOOD[key]]
    return st.sampled_from(good * 6 + values)


def _service_body() -> st.SearchStrategy[str]:
    tag = st.sampled_from([""] * 60 + ["!!str ", "!x "])
    pair = st.sampled_from(sorted(SERVICE_VALUES)).flatmap(
        lambda key: st.tuples(st.just(key), tag, _value(key)))
    # a command most of the time: without one, inference fails and build ends early
    command = st.sampled_from([[("command", "", "x")]] * 5 + [[]])
    pairs = st.builds(lambda first, rest: first + [kv for kv in rest if kv[0] != "command"],
                      command, st.lists(pair, max_size=4, unique_by=lambda kv: kv[0]))
    return pairs.map(lambda kvs: "{" + ", ".join(f"{k}: {t}{v}" for k, t, v in kvs) + "}")


PROJECTS = st.builds(
    lambda head, services: "x-e: &e {A: '1'}\nx-s: &s {command: x}\n" + head + "services:\n"
    + "".join(f"  {name}: {body}\n" for name, body in services),
    st.sampled_from(["", "", "", "version: 1\n", "env: {A: '2', P: '${PORT:-1}'}\n",
                     "env: *e\n", "env_file: .env\n", "env_file: [missing.env]\n",
                     "version: 2\n"]),
    st.lists(st.tuples(st.sampled_from(SERVICE_NAMES[:3] * 5 + SERVICE_NAMES), _service_body()),
             min_size=1, max_size=4, unique_by=lambda pair: pair[0]),
)
DOCUMENTS = st.one_of(
    PROJECTS,
    PROJECTS,
    _block(0),
    st.text(alphabet=st.sampled_from([*"ab: -[]{},&*!<>'\"\n\t#%|?\\$", "\x00"]),
            max_size=200),
)


def _load(tmp_path: Path, data: bytes) -> Spec | None:
    (tmp_path / "orchestra.yaml").write_bytes(data)
    (tmp_path / ".env").write_text("A=1\nPORT=5000\n")
    try:
        return load_spec(LoadOptions(cwd=tmp_path, environ={"HOME": "/nowhere"}))
    except ConfigError as error:
        assert error.problems
        for problem in error.problems:
            assert "\n" not in str(problem), "the CLI prints one line per problem"
            assert problem.location.file
        return None


@pytest.mark.timeout(600)
@pytest.mark.filterwarnings("error")
@FUZZ
@given(document=DOCUMENTS)
def test_yaml_ish_text_gives_a_spec_or_config_error(tmp_path: Path, document: str) -> None:
    spec = _load(tmp_path, document.encode("utf-8", "surrogatepass"))
    if spec is not None:
        assert spec.services
        for service in spec.services:
            assert service.argv
            assert os.path.isabs(service.dir)


@pytest.mark.timeout(600)
@pytest.mark.filterwarnings("error")
@FUZZ
@given(data=st.binary(max_size=500))
def test_random_bytes_give_a_spec_or_config_error(tmp_path: Path, data: bytes) -> None:
    _load(tmp_path, data)
