"""`tty: true` in export: compose and Kubernetes give the container a terminal (and stdin, so
that `docker compose attach` / `kubectl attach -it` do what `orchestra attach` does); systemd,
supervisord and Nomad's raw_exec have no such thing, and their output says so."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from helpers.export import export, write_project

SERVICES = {"shell": {"command": ["/bin/cat"], "tty": True},
            "web": {"command": ["/bin/sleep", "9"]}}


def _exported(tmp_path: Path, fmt: str, *args: str) -> Path:
    root = tmp_path / "app"
    write_project(root, SERVICES, dotenv=None)
    out = tmp_path / fmt
    export(root, fmt, out, *args)
    return out


def test_compose_gives_the_tty_service_a_terminal_and_stdin(tmp_path: Path) -> None:
    out = _exported(tmp_path, "compose", "--image", "img")
    services = yaml.safe_load((out / "compose.yaml").read_text())["services"]
    assert (services["shell"].get("tty"), services["shell"].get("stdin_open")) == (True, True)
    assert "tty" not in services["web"] and "stdin_open" not in services["web"]


def test_kubernetes_gives_the_container_a_terminal_and_stdin(tmp_path: Path) -> None:
    out = _exported(tmp_path, "kubernetes", "--image", "img")
    containers = {c["name"]: c for f in sorted(out.iterdir()) if f.suffix == ".yaml"
                  for doc in yaml.safe_load_all(f.read_text()) if doc
                  for c in _containers(doc)}
    assert (containers["shell"].get("tty"), containers["shell"].get("stdin")) == (True, True)
    assert "tty" not in containers["web"]


def _containers(doc: dict[str, object]) -> list[dict[str, object]]:
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        return []
    template = spec.get("template") or spec.get("jobTemplate", {}).get("spec", {}).get("template")
    return template["spec"]["containers"] if isinstance(template, dict) else []


def test_the_other_formats_say_that_tty_is_not_carried_over(tmp_path: Path) -> None:
    systemd = _exported(tmp_path, "systemd")
    unit = next(systemd.glob("*shell*.service")).read_text()
    assert "# tty: true: the unit gets no terminal of its own; not carried over" in unit
    supervisord = _exported(tmp_path, "supervisord")
    conf = next(supervisord.glob("*.conf")).read_text()
    assert conf.count("tty: true: supervisord gives a program no terminal") == 1, conf
    nomad = _exported(tmp_path, "nomad")
    text = next(nomad.iterdir()).read_text()
    job = json.loads(text)
    metas = [task.get("Meta", {}) for group in job["Job"]["TaskGroups"]
             for task in group["Tasks"]]
    assert [m.get("orchestra.tty") for m in metas].count(
        "true: a raw_exec task has no terminal; not carried over") == 1, text
