"""The YAML source pass: plain data, exact positions, and refusal of everything unsafe.

Every failure must be a `ConfigError` whose single problem points at the offending place
(file:line:column), because that is what `orchestra check` prints.
"""

from __future__ import annotations

import textwrap
import tracemalloc
from pathlib import Path

import pytest

from orchestra.config.source import MAX_DEPTH, load_yaml, load_yaml_text
from orchestra.errors import ConfigError, Location

FILE = "orchestra.yaml"


def data(text: str) -> object:
    return load_yaml_text(textwrap.dedent(text), FILE).data


def failure(text: str) -> tuple[Location, str]:
    with pytest.raises(ConfigError) as info:
        load_yaml_text(textwrap.dedent(text), FILE)
    assert len(info.value.problems) == 1, info.value.problems
    problem = info.value.problems[0]
    assert "\n" not in str(problem), "the CLI prints one line per problem"
    return problem.location, problem.message


def test_every_duplicate_key_is_reported() -> None:
    with pytest.raises(ConfigError) as info:
        load_yaml_text("services:\n  a:\n    command: x\n    command: y\n  b: {}\n  a: {}\n",
                       FILE)
    assert [(p.location.line, p.message) for p in info.value.problems] == [
        (4, "duplicate key 'command' (first defined at line 3)"),
        (6, "duplicate key 'a' (first defined at line 2)")], info.value.problems


# (document, line, column, fragment of the message)
BAD: list[tuple[str, int | None, int | None, str]] = [
    ("a: 1\nb: 2\na: 3\n", 3, 1, "duplicate key 'a' (first defined at line 1)"),
    ("services:\n  web: {}\n  db: {}\n  web: {}\n", 4, 3,
     "duplicate key 'web' (first defined at line 2)"),
    ("a: !!python/object/apply:os.system ['true']\n", 1, 4,
     "unsupported YAML tag '!!python/object/apply:os.system'"),
    ("a: !!python/name:os.system\n", 1, 4, "unsupported YAML tag '!!python/name:os.system'"),
    ("a:\n  b: !custom x\n", 2, 6, "unsupported YAML tag '!custom'"),
    ("a: !!binary aGVsbG8=\n", 1, 4, "unsupported YAML tag '!!binary'"),
    ("a: !!set {x}\n", 1, 4, "unsupported YAML tag '!!set'"),
    ("a: !!int abc\n", 1, 4, "invalid !!int value 'abc'"),
    ("a: !!bool maybe\n", 1, 4, "invalid !!bool value 'maybe'"),
    ("a: !!float x\n", 1, 4, "invalid !!float value 'x'"),
    ("a: &x [1, *x]\n", 1, 4, "recursive alias: the anchor '&x' contains an alias to itself"),
    ("a: &x {b: *x}\n", 1, 4, "recursive alias"),
    ("a: 1\n---\nb: 2\n", 3, None, "more than one YAML document"),
    ("a: [1, 2\n", 2, 1, "invalid YAML: expected ',' or ']'"),
    ("a: 1\n\tb: 2\n", 2, 1, "invalid YAML: found character '\\t' that cannot start any token"),
    ("a: *nope\n", 1, 4, "invalid YAML: found undefined alias 'nope'"),
    ("a: 1\nb: \x00\n", 2, 4, "character U+0000 is not allowed"),
    ('a: "x\\0y"\n', 1, 4, "NUL character"),
    ('a: "\\ud800"\n', 1, 4, "lone surrogate"),
    ("? [1, 2]\n: x\n", 1, 3, "mapping keys must be plain strings"),
    ("base: 1\nm:\n  <<: 1\n", 3, 7, "'<<' merges mappings only"),
    # the first bracket too deep: the document is level 1 and the first '[' is in column 4
    ("a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n", 1, MAX_DEPTH + 4,
     f"nesting deeper than {MAX_DEPTH} levels"),
]


@pytest.mark.parametrize(("text", "line", "column", "fragment"), BAD)
def test_bad_yaml_is_one_positioned_problem(text: str, line: int | None, column: int | None,
                                            fragment: str) -> None:
    location, message = failure(text)
    assert (location.file, location.line, location.column) == (FILE, line, column)
    assert fragment in message


def test_duplicate_key_names_both_lines() -> None:
    location, message = failure("""\
        services:
          web:
            command: a
            dir: .
            command: b
        """)
    assert (location.line, location.column) == (5, 5)
    assert "line 3" in message


def test_tag_that_would_run_a_command_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    for tag in ("!!python/object/apply:os.system", "!!python/object/new:os.system",
                "!!python/object/apply:subprocess.call"):
        with pytest.raises(ConfigError, match="unsupported YAML tag"):
            load_yaml_text(f"a: {tag} [['touch {marker}']]\n", FILE)
        with pytest.raises(ConfigError, match="unsupported YAML tag"):
            load_yaml_text(f"a: {tag}\n  args: ['touch {marker}']\n", FILE)
    assert not marker.exists()


def billion_laughs(levels: int = 10, width: int = 9) -> str:
    lines = ['l0: &l0 ["lol"]']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("text", [
    billion_laughs(),
    # the same with mappings, and with merge keys
    "m0: &m0 {a: 1}\n" + "".join(
        f"m{i}: &m{i} {{a: *m{i - 1}, b: *m{i - 1}, c: *m{i - 1}}}\n" for i in range(1, 30)),
])
def test_alias_bomb_is_refused_without_expanding(text: str) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError, match="aliases") as info:
            load_yaml_text(text, FILE)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.problems[0].location.line is not None
    assert peak < 50 * 1024 * 1024


def test_moderate_alias_reuse_is_fine() -> None:
    loaded = data("""\
        x-env: &env {A: "1"}
        services:
          web: {command: a, env: *env}
          db: {command: b, env: *env}
        """)
    assert isinstance(loaded, dict)
    assert loaded["services"]["web"]["env"] == loaded["services"]["db"]["env"] == {"A": "1"}
    # built twice, not shared: the data is plain and mutating one copy cannot touch the other
    assert loaded["services"]["web"]["env"] is not loaded["services"]["db"]["env"]


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n", "~\n"])
def test_empty_documents_are_none(text: str) -> None:
    assert load_yaml_text(text, FILE).data is None


def test_yaml_1_2_scalars() -> None:
    loaded = data("""\
        no: no
        yes: yes
        on: off
        y: n
        t: true
        f: False
        n: ~
        e:
        octal: 0o17
        leading_zero: 017
        hex: 0x1f
        float: 1.5
        exp: 1e3
        inf: -.inf
        date: 2001-12-14
        quoted: "12"
        """)
    assert loaded == {
        "no": "no", "yes": "yes", "on": "off", "y": "n", "t": True, "f": False, "n": None,
        "e": None, "octal": 15, "leading_zero": 17, "hex": 31, "float": 1.5, "exp": 1000.0,
        "inf": float("-inf"), "date": "2001-12-14", "quoted": "12",
    }


def test_explicit_standard_tags_are_allowed() -> None:
    assert data("a: !!str 12\nb: !!int '7'\nc: !!float 1\nd: !!null ''\n") == {
        "a": "12", "b": 7, "c": 1.0, "d": None}


def test_keys_are_always_strings() -> None:
    assert data("1: a\nnull: b\ntrue: c\n") == {"1": "a", "null": "b", "true": "c"}


def test_merge_keys_explicit_keys_win_and_keep_their_positions() -> None:
    document = load_yaml_text(textwrap.dedent("""\
        x-base: &base
          command: base
          dir: ./base
          env: {A: "1"}
        services:
          web:
            <<: *base
            dir: ./web
        """), FILE)
    web = document.data["services"]["web"]  # type: ignore[index]
    assert web == {"dir": "./web", "command": "base", "env": {"A": "1"}}
    assert list(web) == ["dir", "command", "env"]
    # the explicit key is where it was written, not inside the anchor
    assert document.source.locate(("services", "web", "dir")) == Location(FILE, 8, 10)
    assert document.source.locate_key(("services", "web", "dir")) == Location(FILE, 8, 5)
    # a merged key points at the anchored text
    assert document.source.locate(("services", "web", "command")) == Location(FILE, 2, 12)


def test_merge_key_order_in_the_key_position_does_not_matter() -> None:
    assert data("b: &b {x: 1, y: 2}\nm:\n  y: 3\n  <<: *b\n")["m"] == {  # type: ignore[index]
        "y": 3, "x": 1}


def test_merge_list_earlier_mapping_wins() -> None:
    loaded = data("""\
        a: &a {k: a, only_a: 1}
        b: &b {k: b, only_b: 2}
        m:
          <<: [*a, *b]
        """)
    assert loaded["m"] == {"k": "a", "only_a": 1, "only_b": 2}  # type: ignore[index]


def test_source_map_positions_and_fallback() -> None:
    document = load_yaml_text("services:\n  web:\n    command: [a, b]\n", FILE)
    source = document.source
    assert source.locate(("services", "web", "command", 1)) == Location(FILE, 3, 18)
    assert source.locate_key(("services", "web")) == Location(FILE, 2, 3)
    # a path that does not exist falls back to its nearest ancestor
    assert source.locate(("services", "web", "nope", 3)) == Location(FILE, 3, 5)
    assert source.locate(("missing",)) == Location(FILE, 1, 1)


def test_non_utf8_points_at_the_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "orchestra.yaml"
    path.write_bytes(b"services:\n  web:\n    command: caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        load_yaml(path)
    (problem,) = info.value.problems
    assert problem.location == Location(str(path), 3, 17)
    assert "not valid UTF-8 (byte 0xe9)" in problem.message


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "orchestra.yaml"
    path.write_bytes(b"\xef\xbb\xbfa: 1\n")
    assert load_yaml(path).data == {"a": 1}


@pytest.mark.parametrize(("make", "fragment"), [
    (lambda d: d, "is a directory"),
    (lambda d: d / "missing.yaml", "no such file"),
])
def test_unreadable_paths(tmp_path: Path, make: object, fragment: str) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(ConfigError) as info:
        load_yaml(path)
    (problem,) = info.value.problems
    assert problem.location.file == str(path)
    assert fragment in problem.message


@pytest.mark.filterwarnings("error")
def test_reused_anchor_is_silent_and_the_later_one_wins() -> None:
    assert data("a: &x 1\nb: &x 2\nc: *x\n") == {"a": 1, "b": 2, "c": 2}


@pytest.mark.parametrize(("text", "column"), [
    ("services:\n  {name}:\n    command: x\n", 3),
    ('services:\n  "{name}":\n    command: x\n', 3),
    ("services: {{x: {{command: y}}, {name}: {{command: x}}}}\n", 29),
])
def test_a_key_past_yamls_length_limit_says_so(text: str, column: int) -> None:
    """YAML reads a `key: value` key only up to 1024 characters; ruamel then reports the colon
    as "mapping values are not allowed here", which says nothing about the name."""
    name = "a" * 1100
    location, message = failure(text.format(name=name))
    assert (location.line, location.column) == (2 if text.startswith("services:\n") else 1,
                                                column)
    assert message == ("key too long: 1,100 characters (YAML allows at most 1,024 in a key "
                       "written as 'key: value'; a service name must be shorter)")


def test_a_key_of_1024_characters_is_read() -> None:
    loaded = data("services:\n  " + "a" * 1024 + ":\n    command: x\n")
    assert isinstance(loaded, dict) and list(loaded["services"]) == ["a" * 1024]


def test_a_misplaced_colon_is_still_reported_as_such() -> None:
    location, message = failure("a: b: c\n")
    assert (location.line, location.column, message) == (
        1, 5, "invalid YAML: mapping values are not allowed here")
