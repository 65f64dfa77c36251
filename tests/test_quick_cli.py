"""The quick command line of `up`, `start` and `run` (cli/quick.py) against typer's reading.

Whatever the quick parser accepts, typer must read to the very same request; whatever it does
not recognise goes to typer. And the quick path must really stay lean: a Procfile project's
`up` imports no CLI framework, YAML parser or JSON Schema validator.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence

import pytest
from helpers.orch import PY, Project, base_env
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestra.cli import commands
from orchestra.cli.app import app
from orchestra.cli.quick import parse
from orchestra.cli.run import RunRequest
from orchestra.cli.up import UpRequest


class _Read(Exception):
    def __init__(self, request: UpRequest | RunRequest) -> None:
        self.request = request


def _record(request: UpRequest | RunRequest) -> int:
    raise _Read(request)


def typer_reading(argv: Sequence[str]) -> UpRequest | RunRequest | None:
    """The request typer's signatures build from `argv`; None when typer refuses it.

    The implementations are replaced by a recorder for the call: only the reading is compared.
    """
    saved = commands.up_command, commands.run_command
    saved_argv = sys.argv
    commands.up_command = commands.run_command = _record  # type: ignore[assignment]
    # `run` looks at the real command line for a `--` (cli/commands.py); pytest's own
    # would make `run -- --` look like an unknown option
    sys.argv = ["orchestra", *argv]
    try:
        app(list(argv), prog_name="orchestra", standalone_mode=False)
    except _Read as read:
        return read.request
    except Exception:   # a usage error of any kind: typer refuses it
        return None
    finally:
        commands.up_command, commands.run_command = saved
        sys.argv = saved_argv
    return None


CASES = [
    ["up"],
    ["start", "web", "--no-color", "worker"],
    ["-f", "Procfile.dev", "up", "-e", ".env.test,.env.local", "-t", "2.5"],
    ["up", "-fProcfile", "--port=6000", "-c", "web=2", "-q", "web,db", "--output", "json"],
    ["up", "--no-prefix", "--no-timestamps", "--no-colour", "--abort-on-exit", "--", "-odd"],
    ["up", "--exit-code-from", "tests", "-n", "backend", "--max-line", "1000", "-d", "app"],
    ["run", "--with", "db,api", "--", "pytest", "-x", "--with", "x"],
    ["run", "--with=db", "--quiet-services", "pytest", "-q"],
    ["-e", ".env", "run", "--no-deps", "-t", "0", "true"],
    ["run", "echo", "--help"],
    ["run", "--", "--"],
    ["up", "-t", "-1"],
    ["up", "--log-lines", "50", "-D", "--wait"],
    ["up", "-p", "+70"],
    ["up", "-f", "a.yaml", "-f", "b.yaml", "--profile", "debug", "--profile=x,y", "web"],
    ["-f", "a.yaml", "-f", "b.yaml", "up", "--profile", "tools"],
    ["-f", "a.yaml", "-f", "b.yaml", "up", "-f", "c.yaml"],
    ["-f", "a.yaml", "run", "-f", "b.yaml", "-f", "c.yaml", "true"],
    ["up", "--tui", "--wait", "--project-name", "shop"],
    ["up", "--watch", "web"],
    ["up", "--no-watch", "-D", "--watch"],
    ["up", "--tty", "shell", "--tty=web,db", "-D"],
    ["run", "--with", "db", "--tty", "db", "true"],
    ["up", "-c", "web=2", "-m", "worker=3", "-q", "a", "--quiet=b", "-e", "x.env", "-e", "y"],
    ["-e", "a.env", "-e", "b.env", "up", "-e", "c.env"],
    ["-e", "a.env", "up", "-c", "web=2"],
    ["run", "--with", "db", "--with=api", "-e", "a", "-e", "b", "true"],
]


@pytest.mark.parametrize("argv", CASES, ids=[" ".join(c) for c in CASES])
def test_the_quick_reading_is_typers(argv: list[str]) -> None:
    quick = parse(argv, {})
    assert quick is not None, "the quick parser should read this command line"
    assert quick == typer_reading(argv)


@pytest.mark.parametrize("argv", [
    ["up", "--help"], ["up", "--no-colr"], ["up", "-p"], ["up", "-p", "٥٠٠٠"],
    ["up", "-t", "1e3"], ["run", "--bogus", "x"], ["up", "--no-prefix=yes"], ["check"],
    ["up", "-f", ""], ["--version"],
])
def test_what_it_does_not_recognise_goes_to_typer(argv: list[str]) -> None:
    assert parse(argv, {}) is None


@pytest.mark.parametrize("argv", [["-f", "b.yaml", "up"], ["-f", "b.yaml", "up", "-f", "c.yaml"],
                                  ["up"], ["-f", "b.yaml", "run", "true"]])
def test_orchestra_file_in_the_environment_reads_the_same_both_ways(
        argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """ORCHESTRA_FILE comes after every -f typed, before or after the command."""
    monkeypatch.setenv("ORCHESTRA_FILE", "a.yaml")
    quick = parse(argv, {"ORCHESTRA_FILE": "a.yaml"})
    assert quick is not None and quick == typer_reading(argv)


def test_orchestra_file_from_the_environment() -> None:
    assert parse(["up"], {"ORCHESTRA_FILE": "x.yaml"}) == UpRequest(file=("x.yaml",))
    assert parse(["up", "-f", "y"], {"ORCHESTRA_FILE": "x.yaml"}) == UpRequest(
        file=("y",))


def test_orchestra_file_lists_layers_as_click_splits_them(monkeypatch: pytest.MonkeyPatch,
                                                          ) -> None:
    """click splits a path list from the environment at ':'; so does the quick parser."""
    monkeypatch.setenv("ORCHESTRA_FILE", "a.yaml:b.yaml")
    layered = UpRequest(file=("a.yaml", "b.yaml"))
    assert parse(["up"], {"ORCHESTRA_FILE": "a.yaml:b.yaml"}) == layered
    assert typer_reading(["up"]) == layered


def test_repeated_comma_lists_are_joined() -> None:
    """-c, -q, -e and --with given twice mean both values (tests/test_repeated_flags.py)."""
    assert parse(["up", "-c", "web=2", "-c", "worker=3", "-q", "a", "-q", "b"], {}) == UpRequest(
        formation="web=2,worker=3", quiet="a,b")
    assert parse(["-e", "a", "-e", "b", "up"], {}) == UpRequest(env="a,b")
    assert parse(["-e", "a", "up", "-e", "c"], {}) == UpRequest(env="c")


def test_repeated_files_and_profiles_are_all_kept() -> None:
    quick = parse(["up", "-f", "a.yaml", "--file=b.yaml", "--profile", "x,y", "--profile=z"], {})
    assert quick == UpRequest(file=("a.yaml", "b.yaml"), profiles=("x,y", "z"))
    # files after the command replace those before it rather than adding to them (as typer)
    assert parse(["-f", "a", "-f", "b", "up", "-f", "c"], {}) == UpRequest(file=("c",))
    assert parse(["-f", "a", "-f", "b", "up"], {}) == UpRequest(file=("a", "b"))


TOKENS = ["up", "start", "run", "--", "-", "web", "db", "-f", "-fP", "--file", "--file=P",
          "-e", ".env", "-d", "-p", "5000", "-p5", "-t", "1.5", "-t.5", "--no-color",
          "--no-prefix", "-q", "web", "--with", "--with=db", "--no-deps", "--output", "json",
          "-c", "web=2", "--max-line", "90", "-x", "--", "pytest", "-n", "ns",
          "--profile", "--profile=debug", "-fQ", "--watch", "--no-watch"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=8))
def test_whenever_the_quick_parser_reads_a_line_typer_reads_it_the_same(
        argv: list[str]) -> None:
    quick = parse(argv, {})
    if quick is not None:
        assert quick == typer_reading(argv), argv


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="0123456789+-.e \u0663\u00b2x", max_size=7))
def test_numbers_are_told_as_clicks_patterns_tell_them(text: str) -> None:
    """The quick parser tells numbers without regular expressions: the same verdicts as
    the patterns it replaces (an int, a float as click reads them; ASCII digits only)."""
    import re

    from orchestra.cli.quick import _is_float, _is_int

    assert _is_int(text) == bool(re.fullmatch(r"[+-]?[0-9]+", text))
    assert _is_float(text) == bool(re.fullmatch(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)", text))


def test_request_fields_are_the_flags() -> None:
    """Every option of the table is a field of its request, so neither parser drops one."""
    from orchestra.cli import flags

    assert {f.dest for f in flags.UP} <= set(UpRequest._fields)
    assert {f.dest for f in flags.RUN} <= set(RunRequest._fields)


def test_up_and_run_share_their_first_fields() -> None:
    """`cli/values.py` reads the options both commands have from either request: the two
    NamedTuples begin with the same fields and defaults."""
    shared = [name for name in RunRequest._fields if name in UpRequest._fields]
    assert len(shared) == 12
    assert UpRequest._fields[:12] == RunRequest._fields[:12] == tuple(shared)
    assert ({name: UpRequest._field_defaults[name] for name in shared}
            == {name: RunRequest._field_defaults[name] for name in shared})


HEAVY = ("typer", "click", "pydantic", "rich", "jsonschema", "ruamel")


def _imported(project: Project, *args: str) -> set[str]:
    result = subprocess.run([PY, "-X", "importtime", "-m", "orchestra", *args],
                            cwd=project.root, env=base_env(project.mark), capture_output=True,
                            timeout=30, check=False)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    names = set()
    for line in result.stderr.decode().splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


def test_up_with_a_procfile_imports_nothing_heavy(project: Project) -> None:
    project.procfile("web: echo hi\n")
    assert _imported(project, "up", "--no-color") & set(HEAVY) == set()


def test_up_with_a_valid_yaml_needs_only_the_yaml_parser(project: Project) -> None:
    project.yaml({"web": {"command": ["echo", "hi"], "readiness": {"log": "hi"}}})
    imported = _imported(project, "up", "--no-color")
    assert imported & set(HEAVY) == {"ruamel"}
    assert "difflib" not in imported   # for did-you-mean messages only


def test_a_yaml_with_problems_still_gets_the_full_messages(project: Project) -> None:
    project.yaml({"web": {"comand": ["echo", "hi"]}})
    result = project.run("--no-color")
    assert result.rc == 2, result.dump()
    assert b"unknown key 'comand' (did you mean 'command'?)" in result.err, result.dump()


def _imported_modules(project: Project) -> set[str]:
    """Every module (full dotted name) that `orchestra up --no-color` imports."""
    result = subprocess.run([PY, "-X", "importtime", "-m", "orchestra", "up", "--no-color"],
                            cwd=project.root, env=base_env(project.mark), capture_output=True,
                            timeout=30, check=False)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    return {line.rsplit("|", 1)[1].strip() for line in result.stderr.decode().splitlines()
            if line.startswith("import time:") and "|" in line}


WATCHING = {"watchfiles", "anyio", "orchestra.runtime.watch", "orchestra.runtime.watch_paths"}


def test_a_stack_without_watch_imports_nothing_for_watching(project: Project) -> None:
    project.yaml({"web": {"command": ["echo", "hi"]}})
    assert _imported_modules(project) & WATCHING == set()


def test_a_stack_with_watch_imports_the_watcher(project: Project) -> None:
    """The other side of the test above: the names it looks for are the ones really used."""
    (project.root / "src").mkdir()
    project.yaml({"web": {"command": ["echo", "hi"], "watch": ["src"]}})
    assert _imported_modules(project) & WATCHING == WATCHING
