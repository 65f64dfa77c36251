"""Profiles: services started only when one of their profiles is active, or when named, or
as a dependency of a service that starts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.cli import TEXT, Cli
from helpers.orch import PY, Project

from orchestra.config.model import Service, SourceKind, Spec
from orchestra.config.model_parts import Dependency
from orchestra.errors import UsageError
from orchestra.plan import Selection, make_plan


def _service(name: str, *, profiles: tuple[str, ...] = (), deps: tuple[str, ...] = (),
             disabled: bool = False) -> Service:
    return Service(name, ("true",), False, Path("/"), Path("/"), profiles=profiles,
                   depends_on=tuple(Dependency(d) for d in deps), disabled=disabled)


SPEC = Spec(Path("/orchestra.yaml"), SourceKind.YAML, Path("/"), (
    _service("db", profiles=("full",)),
    _service("web", deps=("db",)),
    _service("debugger", profiles=("debug", "tools"), deps=("admin",)),
    _service("admin", profiles=("tools",)),
    _service("worker"),
    _service("old", profiles=("debug",), disabled=True),
))


@pytest.mark.parametrize(("selection", "expected"), [
    # a dependency starts whatever its profiles
    (Selection(), {"db", "web", "worker"}),
    (Selection(profiles=frozenset({"debug"})), {"db", "web", "worker", "debugger", "admin"}),
    (Selection(profiles=frozenset({"tools"})), {"db", "web", "worker", "debugger", "admin"}),
    (Selection(profiles=frozenset({"full"})), {"db", "web", "worker"}),
    # a named service starts without its profile being active
    (Selection(services=("admin",)), {"admin"}),
    (Selection(services=("debugger",), profiles=frozenset({"full"})), {"debugger", "admin"}),
])
def test_which_services_a_selection_starts(selection: Selection, expected: set[str]) -> None:
    assert set(make_plan(SPEC, selection, {}).order) == expected


def test_nothing_to_start_because_of_profiles_is_said() -> None:
    only = Spec(Path("/orchestra.yaml"), SourceKind.YAML, Path("/"),
                (_service("a", profiles=("x",)),))
    with pytest.raises(UsageError, match=r"^nothing to start: every enabled service has "):
        make_plan(only, Selection(), {})
    assert make_plan(only, Selection(profiles=frozenset({"x"})), {}).order == ("a",)


def test_an_unknown_profile_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"^unknown profile 'tool' \(did you mean 'tools'\?\)$"):
        make_plan(SPEC, Selection(profiles=frozenset({"tool"})), {})
    with pytest.raises(UsageError, match=r"^unknown profile 'x' \(known: debug, full, tools\)$"):
        make_plan(SPEC, Selection(profiles=frozenset({"x"})), {})


@pytest.fixture
def cli(project: Project) -> Iterator[Cli]:
    runner = Cli(project)
    yield runner
    runner.close()


def _says(word: str) -> list[str]:
    return [PY, "-c", f"print({word!r})"]


@pytest.fixture
def profiled(project: Project) -> Project:
    project.yaml({
        "web": {"command": _says("web"), "depends_on": ["cache"]},
        "cache": {"command": _says("cache"), "profiles": ["full"]},
        "shell": {"command": _says("shell"), "profiles": ["debug", "tools"]},
        "lint": {"command": _says("lint"), "profiles": ["tools"]},
    })
    return project


def _started(result: object) -> set[str]:
    return {name for name in ("web", "cache", "shell", "lint")
            if result.of(name) == [name]}  # type: ignore[attr-defined]


def test_profiles_on_the_command_line(profiled: Project) -> None:
    result = profiled.run(*TEXT)
    assert result.rc == 0, result.dump()
    assert _started(result) == {"web", "cache"}, result.dump()
    result = profiled.run(*TEXT, "--profile", "debug")
    assert _started(result) == {"web", "cache", "shell"}, result.dump()
    result = profiled.run(*TEXT, "--profile", "debug,tools")
    assert _started(result) == {"web", "cache", "shell", "lint"}, result.dump()
    result = profiled.run(*TEXT, "--profile=debug", "--profile", "tools")
    assert _started(result) == {"web", "cache", "shell", "lint"}, result.dump()
    result = profiled.run(*TEXT, "lint")
    assert _started(result) == {"lint"}, result.dump()


def test_profiles_from_the_environment(profiled: Project) -> None:
    result = profiled.run(*TEXT, env={"ORCHESTRA_PROFILES": "tools"})
    assert _started(result) == {"web", "cache", "shell", "lint"}, result.dump()
    # the command line replaces the variable
    result = profiled.run(*TEXT, "--profile", "debug", env={"ORCHESTRA_PROFILES": "tools"})
    assert _started(result) == {"web", "cache", "shell"}, result.dump()


@pytest.mark.parametrize("command", [("up",), ("check",), ("config",), ("graph",)])
def test_an_unknown_profile_exits_2_with_one_line_and_starts_nothing(
        profiled: Project, cli: Cli, command: tuple[str, ...]) -> None:
    result = cli.run(*command, *(TEXT if command == ("up",) else ()), "--profile", "tool")
    assert result.rc == 2, result.dump()
    assert result.text == "", result.dump()
    assert result.err.decode().splitlines() == [
        "error: unknown profile 'tool' (did you mean 'tools'?)"], result.dump()


def test_config_shows_each_services_profiles(profiled: Project, cli: Cli) -> None:
    result = cli.run("config", "--format", "json", "--profile", "debug")
    assert result.rc == 0, result.dump()
    services = json.loads(result.text)["services"]
    assert {name: s["profiles"] for name, s in services.items()} == {
        "web": [], "cache": ["full"], "shell": ["debug", "tools"], "lint": ["tools"]}


def test_a_bad_profile_name_is_a_config_error(project: Project, cli: Cli) -> None:
    project.yaml({"web": {"command": "true", "profiles": ["ok", "not ok"]}})
    result = cli.run("check")
    assert result.rc == 2, result.dump()
    assert "services.web.profiles[1]: invalid profile 'not ok'" in result.err.decode(), \
        result.dump()
