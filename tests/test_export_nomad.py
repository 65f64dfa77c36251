"""`orchestra export nomad`: a JSON job for `nomad job run -json`. No Nomad binary can be had
here, so the job is checked against the structure of Nomad's job API (job → task groups →
tasks, with the field names and types Nomad reads) by a JSON Schema, and read back."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from helpers.export import (
    ARGS,
    ENV,
    ENV_ANY,
    SECRETS_ANY,
    dotenv_text,
    export,
    hostile_services,
    load_model,
    run_cli,
    write_project,
)

NANOS = {"type": "integer", "minimum": 0}
CHECK = {"type": "object", "additionalProperties": False,
         "required": ["Name", "Type", "PortLabel", "Interval", "Timeout"],
         "properties": {"Name": {"type": "string"}, "Type": {"enum": ["tcp", "http"]},
                        "PortLabel": {"type": "string"}, "Interval": NANOS, "Timeout": NANOS,
                        "Path": {"type": "string"}, "Protocol": {"enum": ["http", "https"]}}}
TASK = {
    "type": "object", "additionalProperties": False,
    "required": ["Name", "Driver", "Config", "Env", "KillTimeout", "KillSignal"],
    "properties": {
        "Name": {"type": "string"}, "Driver": {"const": "raw_exec"}, "User": {"type": "string"},
        "Config": {"type": "object", "additionalProperties": False,
                   "required": ["command", "args", "work_dir"],
                   "properties": {"command": {"type": "string", "minLength": 1},
                                  "args": {"type": "array", "items": {"type": "string"}},
                                  "work_dir": {"type": "string", "pattern": "^/"}}},
        "Env": {"type": "object", "additionalProperties": {"type": "string"}},
        "Meta": {"type": "object", "additionalProperties": {"type": "string"}},
        "KillTimeout": NANOS, "KillSignal": {"type": "string", "pattern": "^SIG"},
        "Lifecycle": {"type": "object", "additionalProperties": False,
                      "properties": {"Hook": {"enum": ["prestart", "poststart", "poststop"]},
                                     "Sidecar": {"type": "boolean"}}},
        "Services": {"type": "array", "items": {
            "type": "object", "additionalProperties": False,
            "required": ["Name", "PortLabel", "Provider", "Checks"],
            "properties": {"Name": {"type": "string", "pattern": "^[a-z0-9-]+$"},
                           "PortLabel": {"type": "string"}, "Provider": {"const": "nomad"},
                           "Checks": {"type": "array", "items": CHECK}}}},
    },
}
GROUP = {
    "type": "object", "additionalProperties": False,
    "required": ["Name", "Count", "Tasks", "RestartPolicy"],
    "properties": {
        "Name": {"type": "string"}, "Count": {"type": "integer", "minimum": 1},
        "Tasks": {"type": "array", "minItems": 1, "items": TASK},
        "RestartPolicy": {"type": "object", "additionalProperties": False,
                          "required": ["Attempts", "Interval", "Delay", "Mode"],
                          "properties": {"Attempts": {"type": "integer", "minimum": 0},
                                         "Interval": NANOS, "Delay": NANOS,
                                         "Mode": {"enum": ["fail", "delay"]}}},
        "ReschedulePolicy": {"type": "object", "additionalProperties": False,
                             "properties": {"Attempts": {"type": "integer"},
                                            "Unlimited": {"type": "boolean"}}},
        "Networks": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "properties": {
                "ReservedPorts": {"type": "array", "items": {
                    "type": "object", "additionalProperties": False,
                    "required": ["Label", "Value"],
                    "properties": {"Label": {"type": "string"},
                                   "Value": {"type": "integer", "minimum": 1,
                                             "maximum": 65535}}}}}}},
    },
}
JOB = {"type": "object", "additionalProperties": False, "required": ["Job"], "properties": {
    "Job": {"type": "object", "additionalProperties": False,
            "required": ["ID", "Name", "Type", "Datacenters", "TaskGroups"],
            "properties": {"ID": {"type": "string"}, "Name": {"type": "string"},
                           "Type": {"enum": ["service", "batch"]},
                           "Datacenters": {"type": "array", "items": {"type": "string"}},
                           "TaskGroups": {"type": "array", "minItems": 1, "items": GROUP}}}}}


def job(path: Path) -> dict[str, object]:
    data = json.loads(path.read_text())
    jsonschema.validate(data, JOB)
    groups = data["Job"]["TaskGroups"]
    # Nomad refuses duplicate names at each level and a restart interval shorter than
    # attempts × delay
    assert len({g["Name"] for g in groups}) == len(groups)
    for group in groups:
        assert len({t["Name"] for t in group["Tasks"]}) == len(group["Tasks"])
        policy = group["RestartPolicy"]
        assert policy["Mode"] == "delay" or (
            policy["Interval"] >= policy["Attempts"] * policy["Delay"])
        labels = {p["Label"] for n in group.get("Networks", []) for p in n["ReservedPorts"]}
        for task in group["Tasks"]:
            for service in task.get("Services", []):
                assert service["PortLabel"] in labels
    return data  # type: ignore[no-any-return]


@pytest.fixture
def exported(tmp_path: Path) -> tuple[Path, dict[str, dict[str, object]]]:
    root = tmp_path / "shop"
    write_project(root, hostile_services(env_any=True, newline_arg=True))
    export(root, "nomad", tmp_path / "out", "-a", "shop", "-u", "app")
    return tmp_path / "out" / "shop.nomad.json", load_model(root)


def test_job_structure_argv_and_env(exported: tuple[Path, dict[str, dict[str, object]]]) -> None:
    path, model = exported
    assert path.stat().st_mode & 0o777 == 0o600    # .env values are inlined
    data = job(path)["Job"]
    assert (data["ID"], data["Type"]) == ("shop", "service")  # type: ignore[index]
    groups = {g["Name"]: g for g in data["TaskGroups"]}  # type: ignore[index]
    # migrate is waited for until it completes: a prestart task in its dependent's groups
    assert sorted(groups) == ["db", "web.1", "web.2", "worker"]
    [db] = groups["db"]["Tasks"]
    assert [db["Config"]["command"], *db["Config"]["args"]] == model["db"]["argv"] == [
        "/bin/echo", *ARGS, "line one\nline two"]
    assert db["Config"]["work_dir"] == str(path.parent.parent / "shop")
    assert {k: db["Env"][k] for k in model["db"]["env"]} == model["db"]["env"]  # type: ignore[union-attr]
    assert {k: db["Env"][k] for k in {**ENV, **ENV_ANY}} == {**ENV, **ENV_ANY}
    assert (db["KillSignal"], db["KillTimeout"], db["User"]) == ("SIGINT", 3 * 10**9, "app")
    assert groups["db"]["RestartPolicy"]["Attempts"] == 3
    assert groups["db"]["RestartPolicy"]["Delay"] == 2 * 10**9


def test_one_shots_checks_and_replicas(
        exported: tuple[Path, dict[str, dict[str, object]]]) -> None:
    path, _ = exported
    groups = {g["Name"]: g for g in job(path)["Job"]["TaskGroups"]}  # type: ignore[index]
    web = groups["web.2"]
    prestart, main = web["Tasks"]
    assert prestart["Name"] == "migrate"
    assert prestart["Lifecycle"] == {"Hook": "prestart", "Sidecar": False}
    assert [prestart["Config"]["command"], *prestart["Config"]["args"]] == ["/bin/echo",
                                                                            "migrate"]
    assert main["Env"]["PORT"] == "8001" and main["Env"]["PS"] == "web.2"
    assert web["Networks"] == [{"ReservedPorts": [{"Label": "main", "Value": 8001}]}]
    [service] = main["Services"]
    assert service["Name"] == "shop-web-2"
    assert service["Checks"][0] | {"Interval": 0} == {
        "Name": "readiness", "Type": "http", "PortLabel": "main", "Path": "/health",
        "Protocol": "http", "Interval": 0, "Timeout": 10**9}
    worker = groups["worker"]
    assert worker["Count"] == 2 and "PS" not in worker["Tasks"][0]["Env"]
    assert worker["RestartPolicy"]["Mode"] == "delay"     # always, without a limit


def test_secret_values_are_inlined_exactly(tmp_path: Path) -> None:
    root = tmp_path / "app"
    values = {k: v for k, v in SECRETS_ANY.items() if "${" not in v}
    write_project(root, {"web": {"command": ["/bin/true"]}}, dotenv=dotenv_text(values))
    export(root, "nomad", tmp_path / "out")
    path = tmp_path / "out" / "app.nomad.json"
    [group] = job(path)["Job"]["TaskGroups"]  # type: ignore[index]
    assert {k: group["Tasks"][0]["Env"][k] for k in values} == values
    assert path.stat().st_mode & 0o777 == 0o600


def test_nomad_interpolation_is_refused(tmp_path: Path) -> None:
    write_project(tmp_path, {"a": {"command": ["/bin/echo", "$${NOMAD_TASK_NAME}"]}},
                  dotenv=None)
    result = run_cli(tmp_path, "export", "nomad", str(tmp_path / "out"))
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("error: nomad: a: '${NOMAD_TASK_NAME}' holds '${'")
    assert not (tmp_path / "out").exists()
