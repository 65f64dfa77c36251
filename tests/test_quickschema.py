"""config/quickschema.py answers "valid?" exactly as jsonschema does, for the shipped schema."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from test_schema import BAD, check

from orchestra.config.quickschema import _ANNOTATIONS, _KEYWORDS, is_valid
from orchestra.config.schema import load_schema
from orchestra.config.source import load_yaml_text

SCHEMA = load_schema()
FULL = Draft202012Validator(SCHEMA)


def _keywords(node: Any, found: set[str]) -> set[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            found.add(key)
            if key in ("properties", "patternProperties", "$defs"):
                for sub in value.values():
                    _keywords(sub, found)
            elif key not in ("enum", "const", "required", "examples", "default"):
                _keywords(value, found)
    elif isinstance(node, list):
        for item in node:
            _keywords(item, found)
    return found


def test_every_keyword_of_the_schema_is_interpreted() -> None:
    assert _keywords(SCHEMA, set()) - set(_KEYWORDS) - _ANNOTATIONS == set()


def test_the_bad_documents_of_the_schema_tests_are_invalid_to_both() -> None:
    for text, *_ in BAD:
        data = load_yaml_text(text, "orchestra.yaml").data
        assert not FULL.is_valid(data), text
        assert not is_valid(data, SCHEMA), text
        assert check(text), text   # and the loader still explains them


WORDS = ["", "x", "web", "10s", "500ms", "1m30s", "SIGTERM", "SIGRTMIN+3",
         "http://127.0.0.1:80/", "127.0.0.1:5432", "5432", "no", "always", "on-failure",
         "ready", "started", "healthy", "service_healthy", "completed_successfully", "${X}",
         "-x", "x-a", "a.b", "web.1"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 70000),
                    st.sampled_from([0.0, 1.0, 2.5, -1.5, 1e300]), st.sampled_from(WORDS))
KEYS = st.sampled_from([
    "command", "args", "dir", "entrypoint", "env", "env_file", "namespace", "depends_on",
    "readiness", "liveness", "restart", "stop_signal", "stop_timeout", "replicas", "port",
    "disabled", "tcp", "http", "exec", "log", "notify", "interval", "timeout", "retries",
    "start_period", "policy", "max_restarts", "backoff", "condition", "services", "version",
    "x-base", "web", "db", "bogus"])


def _values(depth: int) -> st.SearchStrategy[Any]:
    if depth == 0:
        return SCALARS
    inner = _values(depth - 1)
    return st.one_of(SCALARS, st.lists(inner, max_size=3),
                     st.dictionaries(KEYS, inner, max_size=4))


SERVICE = st.dictionaries(KEYS, _values(2), max_size=5)
DOCUMENTS = st.one_of(
    st.fixed_dictionaries({"services": st.dictionaries(st.sampled_from(["web", "db", "a.b", "-x"]),
                                                       st.one_of(st.none(), SERVICE),
                                                       max_size=3)},
                          optional={"env": _values(1), "env_file": _values(1),
                                    "version": SCALARS}),
    _values(3))


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENTS)
def test_quick_and_full_validation_agree(document: Any) -> None:
    assert is_valid(document, SCHEMA) == FULL.is_valid(document), document


EDGE = st.one_of(st.integers(-1, 70000), st.booleans(), st.sampled_from([1.0, 2.5, 0.0]),
                 st.sampled_from(["5", "10s", "x", "auto"]))


def test_near_valid_documents_agree_and_many_are_valid() -> None:
    """Documents one odd value away from valid, where the two are most likely to differ; the
    agreement means something only if many of them are valid."""
    valid = 0

    @settings(max_examples=800, deadline=None, database=None)
    @given(st.fixed_dictionaries({"services": st.dictionaries(
        st.sampled_from(["web", "db"]),
        st.fixed_dictionaries({"command": st.sampled_from(["x", ["a", "b"]])},
                              optional={"port": EDGE, "replicas": EDGE, "stop_timeout": EDGE,
                                        "disabled": EDGE, "namespace": EDGE,
                                        "restart": st.sampled_from(["no", "always", True])}),
        min_size=1, max_size=2)}))
    def count(document: Any) -> None:
        nonlocal valid
        assert is_valid(document, SCHEMA) == FULL.is_valid(document)
        valid += is_valid(document, SCHEMA)

    count()
    assert valid > 30
