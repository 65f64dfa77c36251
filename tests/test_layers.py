"""Layered configs: `-f base.yaml -f local.yaml` and orchestra.override.yaml, merged as
compose merges them, with every problem still at its own file and line."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.cli import TEXT, Cli
from helpers.orch import PY, Project

from orchestra.config.loader import LoadOptions, load_spec
from orchestra.config.merge import merge_documents
from orchestra.config.source import load_yaml_text
from orchestra.errors import ConfigError


@pytest.fixture
def cli(project: Project) -> Iterator[Cli]:
    runner = Cli(project)
    yield runner
    runner.close()


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def merged(*texts: str) -> object:
    documents = [load_yaml_text(textwrap.dedent(t), f"f{i}.yaml") for i, t in enumerate(texts)]
    return merge_documents(documents).data


def test_mappings_merge_key_by_key_and_the_rest_is_replaced() -> None:
    data = merged(
        """
        env: {A: a, B: b}
        services:
          web: {command: [a, b], env: {X: '1', Y: '2'}, depends_on: [db], port: 80}
          db: {command: db}
        """,
        """
        env: {B: B2, C: c}
        services:
          web: {command: [c], env: {Y: y}, depends_on: [cache]}
          cache: {command: cache}
        """)
    assert data == {
        "env": {"A": "a", "B": "B2", "C": "c"},
        "services": {
            "web": {"command": ["c"], "env": {"X": "1", "Y": "y"}, "depends_on": ["cache"],
                    "port": 80},   # a list is replaced, not appended to
            "db": {"command": "db"},
            "cache": {"command": "cache"},
        },
    }


def test_reset_and_null_remove_a_key_and_later_files_win() -> None:
    data = merged(
        "services:\n  web: {command: x, port: 80, env: {A: '1', B: '2'}, readiness: {tcp: 80}}\n",
        "services:\n  web: {port: !reset , env: {A: null}, readiness: !reset {}}\n",
        "services:\n  web: {command: z}\n")
    assert data == {"services": {"web": {"command": "z", "env": {"B": "2"}}}}


def test_a_reset_alone_in_flow_style_removes_the_key_as_in_block_style() -> None:
    """`{port: !reset}`: a tag directly followed by `,` `}` or `]` has no value, as
    `port: !reset` in block style; ruamel's scanner alone calls it a syntax error."""
    base = "services:\n  web: {command: x, port: 80, env: {A: '1', B: '2', C: '3'}}\n"
    block = "services:\n  web:\n    port: !reset\n    env:\n      A: !reset\n      C: !reset\n"
    flow = "services:\n  web: {port: !reset, env: {A: !reset,C: !reset}}\n"
    expected = {"services": {"web": {"command": "x", "env": {"B": "2"}}}}
    assert merged(base, block) == expected
    assert merged(base, flow) == expected
    assert merged(base, '{"services": {"web": {"port": !reset, "env": {"A": !reset}}}}') == {
        "services": {"web": {"command": "x", "env": {"B": "2", "C": "3"}}}}
    with pytest.raises(ConfigError) as caught:
        merged("a: [1]\n", "a: [1, !reset]\n")
    assert str(caught.value) == ("f1.yaml:1:8: a[1]: !reset removes a key of a mapping; a list "
                                 "item cannot be reset (write the whole list again)")
    with pytest.raises(ConfigError) as caught:   # any other tag is scanned as before
        merged("a: {b: !resets}\n")
    assert str(caught.value).startswith("f0.yaml:1:15: invalid YAML: expected ' '")


def test_a_reset_in_the_first_file_is_no_data_and_one_in_a_list_is_an_error() -> None:
    assert merged("services:\n  web: {command: x, port: !reset 8}\n") == {
        "services": {"web": {"command": "x"}}}
    with pytest.raises(ConfigError) as caught:
        merged("a: [1]\n", "a: [1, !reset 2]\n")
    assert str(caught.value) == ("f1.yaml:1:8: a[1]: !reset removes a key of a mapping; a list "
                                 "item cannot be reset (write the whole list again)")


def test_other_tags_are_still_refused() -> None:
    """The refusal lists what is allowed, !reset too: a user reaching for compose's
    !override learns from the message which tag there is."""
    with pytest.raises(ConfigError) as caught:
        load_yaml_text("a: !override {}\n", "f.yaml")
    assert str(caught.value) == (
        "f.yaml:1:4: unsupported YAML tag '!override' (only plain mappings, lists, strings, "
        "numbers, booleans, null and !reset are allowed)")


BASE = """
services:
  db:
    command: [db]
    stop_timeout: 5s
  web:
    command: [web]
    depends_on: [db]
"""


def test_every_problem_names_the_file_and_line_it_came_from(tmp_path: Path) -> None:
    base = write(tmp_path, "base.yaml", BASE + "    stop_signal: SIGNOPE\n")
    local = write(tmp_path, "local.yaml", """
        services:
          db:
            stop_timeout: soon
          web:
            depends_on: [db, cache]
        """)
    with pytest.raises(ConfigError) as caught:
        load_spec(LoadOptions(file=base, overrides=(local,), cwd=tmp_path, environ={}))
    assert [str(p) for p in caught.value.problems] == [
        f"{base}:8:18: services.web.stop_signal: invalid signal 'SIGNOPE' (expected a name "
        "such as SIGTERM or TERM, or a signal number)",
        f"{local}:3:19: services.db.stop_timeout: invalid duration 'soon' (expected a number "
        "of seconds or e.g. 500ms, 10s, 2m)",
        f"{local}:5:22: services.web.depends_on: unknown service 'cache'",
    ]


def test_a_condition_changed_by_a_later_file_is_reported_at_that_file(tmp_path: Path) -> None:
    """The dependency is named in the base file, its condition in the override: a problem
    with the condition points at the line that wrote it, not at the base file's entry."""
    base = write(tmp_path, "base.yaml", """
        services:
          db: {command: db, restart: always}
          web:
            command: web
            depends_on: {db: {condition: started}}
        """)
    local = write(tmp_path, "local.yaml", """
        services:
          web:
            depends_on:
              db: {condition: ready}
        """)
    done = write(tmp_path, "done.yaml", """
        services:
          web:
            depends_on:
              db:
                condition: completed_successfully
        """)
    for over, line, column, message in [
            (local, 4, 23, "condition 'ready' needs a readiness check on 'db'"),
            (done, 5, 20, "condition 'completed_successfully' can never be met")]:
        with pytest.raises(ConfigError) as caught:
            load_spec(LoadOptions(file=base, overrides=(over,), cwd=tmp_path, environ={}))
        [problem] = caught.value.problems
        assert str(problem).startswith(
            f"{over}:{line}:{column}: services.web.depends_on.db.condition: {message}"), problem


def test_relative_paths_of_every_file_start_at_the_first_files_folder(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "elsewhere").mkdir()
    base = write(tmp_path, "orchestra.yaml", "services:\n  web: {command: x}\n")
    local = write(tmp_path / "elsewhere", "local.yaml", "services:\n  web: {dir: app}\n")
    spec = load_spec(LoadOptions(file=base, overrides=(local,), cwd=tmp_path, environ={}))
    assert spec.service("web").dir == str(tmp_path / "app")
    assert spec.layers == (str(base), str(local))


def _show_env(key: str) -> list[str]:
    return [PY, "-c", f"import os; print('{key}=' + os.environ.get('{key}', '-'))"]


def test_the_override_file_is_read_beside_orchestra_yaml_and_not_with_f(
        project: Project, cli: Cli) -> None:
    project.yaml({"web": {"command": _show_env("LEVEL"), "env": {"LEVEL": "base"}},
                  "debug": {"command": _show_env("LEVEL")}})
    (project.root / "orchestra.override.yml").write_text(json.dumps(
        {"services": {"web": {"env": {"LEVEL": "mine"}}, "debug": {"disabled": True}}}))
    result = project.run(*TEXT)
    assert result.rc == 0, result.dump()
    assert result.of("web") == ["LEVEL=mine"]
    assert result.of("debug") == [], "the override disabled it"
    # `-f` names the files: the override is read only when it is named too
    result = project.run(*TEXT, "-f", "orchestra.yaml")
    assert result.rc == 0, result.dump()
    assert (result.of("web"), result.of("debug")) == (["LEVEL=base"], ["LEVEL=-"])
    result = project.run(*TEXT, "-f", "orchestra.yaml", "-f", "orchestra.override.yml", "web")
    assert result.of("web") == ["LEVEL=mine"], result.dump()


def test_check_and_config_take_every_f_and_config_prints_the_merged_result(
        project: Project, cli: Cli) -> None:
    write(project.root, "base.yaml", BASE)
    write(project.root, "ci.yaml", "services:\n  db:\n    stop_timeout: !reset\n"
                                   "  web: {command: [web, --ci]}\n")
    result = cli.run("check", "-f", "base.yaml", "--file", "ci.yaml")
    assert (result.rc, result.text) == (0, "valid: 2 services (db, web)\n"), result.dump()
    result = cli.run("config", "--format", "json", "-f", "base.yaml", "-f", "ci.yaml")
    assert result.rc == 0, result.dump()
    data = json.loads(result.text)
    assert data["layers"] == [str(project.root / "base.yaml"), str(project.root / "ci.yaml")]
    assert data["services"]["web"]["argv"] == ["web", "--ci"]
    assert data["services"]["db"]["stop_timeout"] is None
    # and the global spelling, before the command
    assert cli.run("-f", "base.yaml", "-f", "ci.yaml", "config", "--format", "json").text == \
        result.text


def test_a_merge_that_leaves_a_service_without_a_command_is_an_error(
        project: Project, cli: Cli) -> None:
    write(project.root, "orchestra.yaml", BASE)
    local = write(project.root, "orchestra.override.yaml",
                  "services:\n  web: {command: !reset null}\n")
    result = project.run(*TEXT)
    assert result.rc == 2, result.dump()
    assert result.text == ""
    [line] = result.err.decode().splitlines()
    # at the line that removed it, in the file that did
    assert line.startswith(f"error: {local}:2:9: services.web.command: removed here, so no "
                           "command given and none can be inferred"), line


def test_a_syntax_error_in_a_later_file_names_that_file(project: Project, cli: Cli) -> None:
    write(project.root, "orchestra.yaml", BASE)
    write(project.root, "orchestra.override.yaml", "services:\n  web: [unclosed\n")
    result = cli.run("check")
    assert result.rc == 2, result.dump()
    assert f"{project.root / 'orchestra.override.yaml'}:3:1: invalid YAML" in \
        result.err.decode(), result.dump()


def test_a_procfile_cannot_be_layered(project: Project, cli: Cli) -> None:
    project.procfile("web: echo hi\n")
    write(project.root, "more.yaml", "services:\n  db: {command: x}\n")
    result = project.run(*TEXT, "-f", "Procfile", "-f", "more.yaml")
    assert result.rc == 2, result.dump()
    assert result.err.decode().splitlines() == [
        f"error: only YAML configs can be layered with several -f: "
        f"{project.root / 'Procfile'} is a Procfile"], result.dump()


@pytest.mark.parametrize("name", ["orchestra.override.yaml", "orchestra.override.yml"])
def test_an_override_file_beside_a_procfile_is_an_error_not_ignored(
        project: Project, name: str) -> None:
    """With only a Procfile here, an orchestra.override.yaml (a readiness check meant to be
    added, say) has nothing to be read over: ignoring it silently would run without it."""
    project.procfile("web: echo hi\n")
    override = write(project.root, name, "services:\n  web: {env: {A: '1'}}\n")
    result = project.run(*TEXT)
    assert result.rc == 2, result.dump()
    assert result.err.decode().startswith(
        f"error: {override}: {name} is read over orchestra.yaml only"), result.dump()
    assert b"started" not in result.out, result.dump()


def test_a_procfile_named_by_procfile_beside_an_orchestra_yaml_and_its_override_runs(
        project: Project) -> None:
    """$PROCFILE picks the Procfile; the override belongs to the orchestra.yaml beside it."""
    project.procfile("web: echo from-procfile\n")
    write(project.root, "orchestra.yaml", "services:\n  web: {command: echo yaml}\n")
    write(project.root, "orchestra.override.yaml", "services:\n  web: {env: {A: '1'}}\n")
    result = project.run(*TEXT, env={"PROCFILE": "Procfile"})
    assert result.rc == 0 and "from-procfile" in result.text, result.dump()
