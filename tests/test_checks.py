"""The checks pass: what the schema cannot see, every problem at its exact place, all at once."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from orchestra.config.checks import check_spec
from orchestra.config.loader import LoadOptions, load_spec
from orchestra.errors import ConfigError, Problem


def problems(tmp_path: Path, text: str) -> list[Problem]:
    (tmp_path / "orchestra.yaml").write_text(textwrap.dedent(text))
    with pytest.raises(ConfigError) as info:
        load_spec(LoadOptions(cwd=tmp_path, environ={}))
    return list(info.value.problems)


def summary(found: list[Problem]) -> list[tuple[int | None, int | None, str, str]]:
    return [(p.location.line, p.location.column, p.field, p.message) for p in found]


def test_unknown_dependency_with_suggestion_at_its_line(tmp_path: Path) -> None:
    found = problems(tmp_path, """\
        services:
          database: {command: x}
          web:
            command: y
            depends_on:
              - databse
        """)
    assert summary(found) == [(6, 9, "services.web.depends_on",
                               "unknown service 'databse' (did you mean 'database'?)")]


def test_unknown_dependency_in_a_mapping_without_a_close_name(tmp_path: Path) -> None:
    found = problems(tmp_path, """\
        services:
          db: {command: x}
          web:
            command: y
            depends_on:
              queue: {condition: started}
        """)
    assert summary(found) == [(6, 7, "services.web.depends_on", "unknown service 'queue'")]


def test_a_service_is_never_suggested_for_itself(tmp_path: Path) -> None:
    (problem,) = problems(tmp_path, "services:\n  web: {command: y, depends_on: [webb]}\n")
    assert "did you mean" not in problem.message


def test_self_dependency(tmp_path: Path) -> None:
    found = problems(tmp_path, """\
        services:
          web:
            command: y
            depends_on: [web]
        """)
    assert summary(found) == [(4, 18, "services.web.depends_on",
                               "service 'web' depends on itself")]


@pytest.mark.parametrize(("order", "expected"), [
    # web needs migrate, migrate needs db, db needs web; the path starts at the first service
    (("web", "migrate", "db"), "web -> migrate -> db -> web"),
    (("db", "web", "migrate"), "db -> web -> migrate -> db"),
    (("migrate", "db", "web"), "migrate -> db -> web -> migrate"),
])
def test_cycle_is_a_path_in_depends_on_direction(tmp_path: Path, order: tuple[str, ...],
                                                 expected: str) -> None:
    needs = {"web": "migrate", "migrate": "db", "db": "web"}
    lines = ["services:"] + [f"  {name}: {{command: x, depends_on: [{needs[name]}]}}"
                             for name in order]
    found = problems(tmp_path, "\n".join(lines) + "\n")
    assert len(found) == 1, found
    (problem,) = found
    assert problem.message == f"dependency cycle: {expected}"
    first = order[0]
    assert problem.field == f"services.{first}.depends_on"
    # the first link of the cycle, in the first service's depends_on
    assert problem.location.line == 2
    assert problem.location.column == len(f"  {first}: {{command: x, depends_on: [") + 1


def test_ready_condition_needs_readiness(tmp_path: Path) -> None:
    found = problems(tmp_path, """\
        services:
          db: {command: x}
          cache: {command: x, readiness: {tcp: 6379}}
          web:
            command: y
            depends_on:
              db: {condition: ready}
              cache: {condition: service_healthy}
        """)
    assert [(p.location.line, p.field) for p in found] == [
        (7, "services.web.depends_on.db.condition")]
    assert "condition 'ready' needs a readiness check on 'db'" in found[0].message


def test_missing_dir(tmp_path: Path) -> None:
    found = problems(tmp_path, "services:\n  web:\n    command: x\n    dir: ./nope\n")
    assert [(p.field, p.location.line) for p in found] == [("services.web.dir", 4)]
    assert f"directory '{tmp_path.resolve() / 'nope'}' does not exist" in found[0].message


def test_missing_entrypoint(tmp_path: Path) -> None:
    (tmp_path / "api").mkdir()
    found = problems(tmp_path, "services:\n  web:\n    command: x\n    dir: api\n"
                               "    entrypoint: cmd/server\n")
    assert [p.field for p in found] == ["services.web.entrypoint"]
    assert "cmd/server" in found[0].message


def test_dir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    (problem,) = problems(tmp_path, "services:\n  web: {command: x, dir: file}\n")
    assert problem.field == "services.web.dir"


def test_every_problem_of_a_file_in_one_run(tmp_path: Path) -> None:
    found = problems(tmp_path, """\
        services:
          web:
            command: x
            depends_on: [dbb, web, cache]
          cache:
            command: x
            dir: ./missing
          worker:
            command: x
            depends_on: {cache: {condition: ready}}
          a: {command: x, depends_on: [b]}
          b: {command: x, depends_on: [a]}
        """)
    assert sorted((p.location.line, p.field, p.message.split(" (")[0]) for p in found) == [
        (4, "services.web.depends_on", "service 'web' depends on itself"),
        (4, "services.web.depends_on", "unknown service 'dbb'"),
        (7, "services.cache.dir", f"directory '{tmp_path.resolve() / 'missing'}' does not exist"),
        (10, "services.worker.depends_on.cache.condition",
         "condition 'ready' needs a readiness check on 'cache'"),
        (11, "services.a.depends_on", "dependency cycle: a -> b -> a"),
    ]


def test_a_service_with_its_own_problem_still_has_its_dependencies_checked(
        tmp_path: Path) -> None:
    found = problems(tmp_path, """\
        services:
          db: {command: x}
          web:
            command: y
            stop_signal: BOGUS
            depends_on: [dbb]
          api:
            command: z
            port: 0
            depends_on: {cache: {condition: started}}
        """)
    assert [(p.location.line, p.field, p.message.split(" (")[0]) for p in found] == [
        (5, "services.web.stop_signal", "invalid signal 'BOGUS'"),
        (6, "services.web.depends_on", "unknown service 'dbb'"),
        (9, "services.api.port", "port 0 is out of range 1-65535"),
        (10, "services.api.depends_on", "unknown service 'cache'"),
    ]


def test_every_problem_of_one_service_in_one_run(tmp_path: Path) -> None:
    """An interpolation, a schema and two build problems, and a dependency: all five."""
    found = problems(tmp_path, """\
        services:
          db: {command: x}
          web:
            command: "echo ${NOPE}"
            stop_signal: BOGUS
            port: 0
            restart: {policy: always, backoff: banana}
            depends_on: [dbb]
        """)
    assert [(p.location.line, p.field) for p in found] == [
        (4, "services.web.command"), (5, "services.web.stop_signal"), (6, "services.web.port"),
        (7, "services.web.restart.backoff"), (8, "services.web.depends_on")], found


def test_each_replicas_own_directory_is_checked(tmp_path: Path) -> None:
    (tmp_path / "w.1").mkdir()
    found = problems(tmp_path, """\
        services:
          w: {command: pwd, dir: "${PS}", replicas: 2}
        """)
    assert [(p.location.line, p.field, p.message) for p in found] == [
        (2, "services.w.dir", f"directory '{tmp_path.resolve() / 'w.2'}' does not exist")], found


def test_ports_past_the_last_are_reported_at_replicas(tmp_path: Path) -> None:
    found = problems(tmp_path, """\
        services:
          web:
            command: x
            port: 65535
            replicas: 2
          api: {command: y, depends_on: [nope]}
        """)
    assert [(p.location.line, p.field) for p in found] == [
        (5, "services.web.replicas"), (6, "services.api.depends_on")], found


def test_a_valid_spec_has_no_problems(tmp_path: Path) -> None:
    (tmp_path / "orchestra.yaml").write_text(textwrap.dedent("""\
        services:
          db: {command: x, readiness: {tcp: 5432}}
          migrate: {command: y, depends_on: {db: {condition: ready}}}
          web: {command: z, depends_on: {migrate: {condition: completed_successfully}}}
        """))
    spec = load_spec(LoadOptions(cwd=tmp_path, environ={}))
    assert check_spec(spec) == []
    assert spec.names() == ("db", "migrate", "web")


def test_problems_of_every_pass_are_reported_together(tmp_path: Path) -> None:
    """A schema problem in one service does not hide build and check problems elsewhere."""
    found = problems(tmp_path, """\
        services:
          db:
            command: postgres
            port: 70000
          api:
            command: z
            readiness: {log: "([unclosed"}
          worker:
            command: w
            depends_on: [worker, db, nosuch]
        """)
    assert [(p.location.line, p.field, p.message.split(" (")[0]) for p in found] == [
        (4, "services.db.port", "port 70000 is out of range 1-65535"),
        (7, "services.api.readiness.log", "invalid regular expression '([unclosed': "
                                          "unterminated character set at position 1"),
        (10, "services.worker.depends_on", "service 'worker' depends on itself"),
        (10, "services.worker.depends_on", "unknown service 'nosuch'"),
    ]


def test_a_top_level_problem_stops_after_the_schema(tmp_path: Path) -> None:
    found = problems(tmp_path, """\
        servics:
          db: {command: postgres, depends_on: [nosuch]}
        """)
    assert all(p.field in ("servics", "") or "services" in p.message for p in found)
    assert not any("nosuch" in p.message for p in found)
