"""Hostile config files are refused early, with a message that names the limit hit.

The files are generated here: oversized YAML, Procfile and .env files (refused before parsing),
and files under the size limit whose nodes or aliases exceed the node limit (refused while
composing: a syntax error placed at the very end is never reached).
"""

from __future__ import annotations

import subprocess
import time

import pytest
from helpers.orch import PY, Project

from orchestra.config.source import load_yaml_text
from orchestra.config.textfile import MAX_CONFIG_BYTES
from orchestra.config.yaml_budget import MAX_EXPANDED_NODES
from orchestra.errors import ConfigError

BROKEN_TAIL = "zz: [unclosed\n"
"""Invalid YAML at the end of a file: reported only if the parser gets that far."""


def check(project: Project, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([PY, "-m", "orchestra", "check", *args], cwd=project.root,
                          env=project.env(), stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=60, check=False)


def many_services(count: int) -> str:
    return "services:\n" + "".join(f"  s{i}:\n    command: echo {i}\n" for i in range(count))


@pytest.mark.parametrize(("name", "line", "flag"), [
    ("orchestra.yaml", "  s{i}:\n    command: echo {i}\n", ()),
    ("Procfile", "p{i}: echo {i}\n", ()),
    (".env", "VAR_{i}=value {i}\n", ()),
    ("other.yml", "  s{i}:\n    command: echo {i}\n", ("-f", "other.yml")),
])
def test_an_oversized_file_is_refused_before_it_is_parsed(
        project: Project, name: str, line: str, flag: tuple[str, ...]) -> None:
    if name == ".env":
        project.yaml({"web": {"command": "echo hi"}})
    body = "".join(line.format(i=i) for i in range(2 * MAX_CONFIG_BYTES // len(line) + 1))
    (project.root / name).write_text(("services:\n" if "  s" in line else "") + body)
    started = time.monotonic()
    result = check(project, *flag)
    elapsed = time.monotonic() - started
    assert result.returncode == 2, result
    assert result.stderr.decode() == (f"error: {project.root / name}: larger than 1 MiB, the "
                                      "limit for a config file; refusing to read it\n")
    assert elapsed < 10, f"took {elapsed:.1f} s"


def test_a_file_at_the_limit_is_read(project: Project) -> None:
    head = "services:\n  web:\n    command: echo hi\n"
    padding = "#" * 70 + "\n"
    text = head + padding * ((MAX_CONFIG_BYTES - len(head)) // len(padding))
    text += "#" * (MAX_CONFIG_BYTES - len(text) - 1) + "\n"
    assert len(text) == MAX_CONFIG_BYTES
    (project.root / "orchestra.yaml").write_text(text)
    result = check(project)
    assert result.returncode == 0, result
    assert result.stdout == b"valid: 1 service (web)\n"


def test_too_many_nodes_is_refused_while_composing() -> None:
    """The node limit stops the parser in the middle of the file: the syntax error at its end
    is never reached, and the message says which limit it was (no aliases here)."""
    text = many_services(MAX_EXPANDED_NODES // 2) + BROKEN_TAIL
    assert len(text.encode()) < MAX_CONFIG_BYTES
    with pytest.raises(ConfigError) as info:
        load_yaml_text(text, "big.yaml")
    [problem] = info.value.problems
    assert problem.message == (f"the document has more than {MAX_EXPANDED_NODES:,} nodes (the "
                               "limit for a config); refusing to load it")
    assert problem.location.line is not None and problem.location.line < text.count("\n")


@pytest.mark.parametrize("text", [
    # one small anchor, aliased very often: in a flow list, then in a block list
    "x-a: &a [1, 2, 3]\nx-b: [" + ", ".join(["*a"] * 200_000) + "]\n" + BROKEN_TAIL,
    "x-a: &a {k: [1, 2, 3, 4, 5, 6, 7, 8, 9]}\nx-b:\n" + "  - *a\n" * 100_000 + BROKEN_TAIL,
])
def test_alias_expansion_is_counted_while_composing(text: str) -> None:
    assert len(text.encode()) < MAX_CONFIG_BYTES
    with pytest.raises(ConfigError) as info:
        load_yaml_text(text, "aliases.yaml")
    [problem] = info.value.problems
    assert problem.message == (f"the document expands to more than {MAX_EXPANDED_NODES:,} "
                               "nodes through aliases (the limit for a config); refusing to "
                               "load it")


def test_a_large_real_config_is_well_within_the_limits(project: Project) -> None:
    """1,000 services with a command, a port, an env and a dependency each."""
    text = "services:\n" + "".join(
        f"  s{i}:\n    command: echo {i}\n    port: {10000 + i}\n"
        f"    env: {{A: '1', B: '2'}}\n    depends_on: [s0]\n" for i in range(1, 1000))
    text += "  s0: {command: echo 0}\n"
    (project.root / "orchestra.yaml").write_text(text)
    result = check(project)
    assert result.returncode == 0, result
    assert result.stdout.startswith(b"valid: 1000 services"), result

