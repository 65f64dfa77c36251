"""`orchestra graph [--format mermaid|dot]`: golden text, and edges that point from each
dependency to its dependent with the condition as label."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.cli import Cli
from helpers.orch import Project

GOLDEN = Path(__file__).parent / "golden"

#: (dependency, dependent, condition) in tests/golden/graph.yaml, written out by hand.
EDGES = {
    ("db", "migrate", "ready"),                          # service_healthy
    ("migrate", "web-app", "completed_successfully"),    # service_completed_successfully
    ("cache", "web-app", "started"),
    ("db", "worker", "started"),                         # list form: the default condition
    ("cache", "worker", "started"),
    ("web-app", "docs", "started"),
}
NAMES = ["db", "cache", "migrate", "web-app", "worker", "docs"]


@pytest.fixture
def cli(project: Project) -> Iterator[Cli]:
    runner = Cli(project)
    yield runner
    runner.close()


@pytest.fixture
def spec(project: Project) -> Path:
    return Path(shutil.copy(GOLDEN / "graph.yaml", project.root / "orchestra.yaml"))


@pytest.mark.parametrize(("args", "golden"), [
    ((), "graph.mmd"),
    (("--format", "mermaid"), "graph.mmd"),
    (("--format", "dot"), "graph.dot"),
])
def test_graph_matches_golden(cli: Cli, spec: Path, args: tuple[str, ...],
                              golden: str) -> None:
    result = cli.run("graph", *args)
    assert result.rc == 0, result.dump()
    assert result.err == b"", result.dump()
    assert result.text == (GOLDEN / golden).read_text(), result.dump()


def test_mermaid_edges_point_from_dependency_to_dependent(cli: Cli, spec: Path) -> None:
    result = cli.run("graph", "--format", "mermaid")
    assert result.rc == 0, result.dump()
    assert result.lines[0] == "flowchart TD", result.dump()
    nodes = {m["id"]: m["label"] for m in
             re.finditer(r'^    (?P<id>\w+)\["(?P<label>[^"]*)"\]$', result.text, re.M)}
    assert sorted(nodes.values()) == sorted(
        [n for n in NAMES if n != "docs"] + ["docs (disabled)"]), result.dump()
    name = {k: v.removesuffix(" (disabled)") for k, v in nodes.items()}
    edges = {(name[m[1]], name[m[3]], m[2]) for m in
             re.finditer(r"^    (\w+) -->\|(\w+)\| (\w+)$", result.text, re.M)}
    assert edges == EDGES, result.dump()
    assert len(result.lines) == 1 + len(NAMES) + len(EDGES), result.dump()


def test_dot_edges_point_from_dependency_to_dependent(cli: Cli, spec: Path) -> None:
    result = cli.run("graph", "--format", "dot")
    assert result.rc == 0, result.dump()
    assert result.lines[0] == "digraph orchestra {" and result.lines[-1] == "}", result.dump()
    nodes = dict(re.findall(r'^    "([\w-]+)" \[shape=box(, style=dashed)?\];$',
                            result.text, re.M))
    assert sorted(nodes) == sorted(NAMES), result.dump()
    assert {n for n, dashed in nodes.items() if dashed} == {"docs"}, result.dump()
    edges = set(re.findall(r'^    "([\w-]+)" -> "([\w-]+)" \[label="(\w+)"\];$',
                           result.text, re.M))
    assert edges == EDGES, result.dump()


def test_graph_of_a_procfile_has_nodes_and_no_edges(project: Project, cli: Cli) -> None:
    project.procfile("web: echo web\nworker: echo worker\n")
    mermaid = cli.run("graph")
    assert mermaid.rc == 0, mermaid.dump()
    assert mermaid.text == 'flowchart TD\n    s0["web"]\n    s1["worker"]\n', mermaid.dump()
    dot = cli.run("graph", "--format", "dot")
    assert dot.rc == 0, dot.dump()
    assert dot.text == ('digraph orchestra {\n    rankdir=LR;\n    "web" [shape=box];\n'
                        '    "worker" [shape=box];\n}\n'), dot.dump()


def test_graph_with_global_file_option(project: Project, cli: Cli) -> None:
    (project.root / "sub").mkdir()
    shutil.copy(GOLDEN / "graph.yaml", project.root / "sub" / "stack.yaml")
    result = cli.run("-f", "sub/stack.yaml", "graph", "--format", "dot")
    assert result.rc == 0, result.dump()
    assert result.text == (GOLDEN / "graph.dot").read_text(), result.dump()


def test_unknown_format_is_a_usage_error(cli: Cli, spec: Path) -> None:
    result = cli.run("graph", "--format", "xyz")
    assert result.rc == 2, result.dump()
    assert result.out == b"", result.dump()
    assert result.err == b"error: invalid --format 'xyz' (expected mermaid or dot)\n", \
        result.dump()


def test_graph_of_a_broken_config_exits_2(project: Project, cli: Cli) -> None:
    project.yaml({"a": {"command": ["true"], "depends_on": ["nope"]}})
    result = cli.run("graph")
    assert result.rc == 2, result.dump()
    assert result.out == b"", result.dump()
    assert b"nope" in result.err, result.dump()
