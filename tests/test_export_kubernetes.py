"""`orchestra export kubernetes`: every manifest passes `kubernetes-validate --strict`, and the
containers' command, args and env read back (with Kubernetes' `$$` → `$` rule) as the model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers.export import (
    ARGS,
    ENV,
    ENV_ANY,
    SECRETS_ANY,
    dollars_unescaped,
    dotenv_text,
    export,
    hostile_services,
    load_model,
    run_cli,
    write_project,
)
from ruamel.yaml import YAML

VALIDATE = Path(sys.executable).parent / "kubernetes-validate"


def validate(paths: list[Path]) -> None:
    result = subprocess.run([str(VALIDATE), "--strict", *map(str, paths)], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines and all(line.startswith("INFO ") and " passed " in line for line in lines), (
        result.stdout + result.stderr)


def documents(path: Path) -> list[dict[str, object]]:
    return [d for d in YAML(typ="safe").load_all(path.read_text()) if d is not None]


def by_kind(docs: list[dict[str, object]]) -> dict[tuple[str, str], dict[str, object]]:
    return {(str(d["kind"]), str(d["metadata"]["name"])): d for d in docs}  # type: ignore[index]


def container(doc: dict[str, object]) -> dict[str, object]:
    pod = doc["spec"]["template"]["spec"]  # type: ignore[index]
    [main] = pod["containers"]
    return main  # type: ignore[no-any-return]


def container_env(main: dict[str, object]) -> dict[str, str]:
    return {e["name"]: dollars_unescaped(e["value"], "env") for e in main["env"]}  # type: ignore[attr-defined]


@pytest.fixture
def exported(tmp_path: Path) -> tuple[Path, dict[str, dict[str, object]]]:
    root = tmp_path / "shop"
    write_project(root, hostile_services(env_any=True, newline_arg=True))
    export(root, "kubernetes", tmp_path / "out", "--image", "shop:1", "-u", "1000",
           "--root", "/srv/shop app")
    return tmp_path / "out", load_model(root)


def test_manifests_validate_and_keep_argv_env(
        exported: tuple[Path, dict[str, dict[str, object]]]) -> None:
    folder, model = exported
    paths = sorted(folder.iterdir())
    assert [p.name for p in paths] == ["shop-secrets.yaml", "shop.yaml"]
    validate(paths)
    docs = by_kind(documents(folder / "shop.yaml"))
    db = container(docs[("Deployment", "shop-db")])
    argv = [dollars_unescaped(w, "command") for w in [*db["command"], *db["args"]]]  # type: ignore[misc]
    assert argv == model["db"]["argv"] == ["/bin/echo", *ARGS, "line one\nline two"]
    env = container_env(db)
    assert {k: env[k] for k in {**ENV, **ENV_ANY}} == {**ENV, **ENV_ANY}
    assert (env["PS"], env["PWD"]) == ("db.1", "/srv/shop app")
    assert db["workingDir"] == "/srv/shop app"
    assert db["securityContext"] == {"runAsUser": 1000}
    # .env values: only in the Secret, which the container takes with envFrom
    assert not any(k.startswith("SECRET_") for k in env)
    assert db["envFrom"] == [{"secretRef": {"name": "shop-db-env"}}]
    secrets = by_kind(documents(folder / "shop-secrets.yaml"))
    wanted = {k: v for k, v in model["db"]["env"].items() if k.startswith("SECRET_")}  # type: ignore[union-attr]
    assert secrets[("Secret", "shop-db-env")]["stringData"] == wanted
    assert (folder / "shop-secrets.yaml").stat().st_mode & 0o777 == 0o600
    assert (folder / "shop.yaml").stat().st_mode & 0o777 == 0o644
    assert "SECRET_" not in (folder / "shop.yaml").read_text()


def test_workloads_probes_services_and_start_order(
        exported: tuple[Path, dict[str, dict[str, object]]]) -> None:
    folder, _ = exported
    docs = by_kind(documents(folder / "shop.yaml"))
    assert ("Job", "shop-migrate") in docs
    assert docs[("Job", "shop-migrate")]["spec"]["backoffLimit"] == 0  # type: ignore[index]
    db_doc = docs[("Deployment", "shop-db")]
    db = container(db_doc)
    assert db["readinessProbe"] == {"tcpSocket": {"port": 5432}, "periodSeconds": 2,
                                    "timeoutSeconds": 1}
    assert db["lifecycle"] == {"stopSignal": "SIGINT"}
    assert db_doc["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 3  # type: ignore[index]
    labels = db_doc["metadata"]["labels"]  # type: ignore[index]
    assert labels == {"app.kubernetes.io/name": "shop-db", "app.kubernetes.io/part-of": "shop"}
    web = docs[("Deployment", "shop-web-2")]
    main = container(web)
    assert main["readinessProbe"]["httpGet"] == {"path": "/health", "port": 8000,  # type: ignore[index]
                                                 "scheme": "HTTP"}
    assert main["livenessProbe"]["tcpSocket"] == {"port": 8000}  # type: ignore[index]
    assert container_env(main)["PORT"] == "8001"
    assert docs[("Service", "shop-web-2")]["spec"]["ports"] == [  # type: ignore[index]
        {"name": "main", "port": 8001, "targetPort": 8001}]
    waits = web["spec"]["template"]["spec"]["initContainers"]  # type: ignore[index]
    assert [w["command"][2:4] for w in waits] == [
        ["--for=condition=complete", "job/shop-migrate"]]
    migrate = docs[("Job", "shop-migrate")]["spec"]["template"]["spec"]  # type: ignore[index]
    assert [w["command"][2:4] for w in migrate["initContainers"]] == [
        ["--for=condition=available", "deployment/shop-db"]]
    assert migrate["serviceAccountName"] == "shop-wait"
    assert ("Role", "shop-wait") in docs and ("RoleBinding", "shop-wait") in docs
    worker = docs[("Deployment", "shop-worker")]
    assert worker["spec"]["replicas"] == 2  # type: ignore[index]
    assert "PS" not in container_env(container(worker))


def test_a_one_shot_with_replicas_is_one_job_that_completes_that_often(tmp_path: Path) -> None:
    write_project(tmp_path, {
        "seed": {"command": ["/bin/true"], "replicas": 3,
                 "restart": {"policy": "on-failure", "max_restarts": 2}},
        "web": {"command": ["/bin/sleep", "9"],
                "depends_on": {"seed": {"condition": "completed_successfully"}}},
    }, dotenv=None)
    export(tmp_path, "kubernetes", tmp_path / "out", "--image", "x", "-a", "app")
    validate(sorted((tmp_path / "out").iterdir()))
    job = by_kind(documents(tmp_path / "out" / "app.yaml"))[("Job", "app-seed")]
    assert {k: job["spec"][k] for k in ("completions", "parallelism", "backoffLimit")} == {  # type: ignore[index]
        "completions": 3, "parallelism": 3, "backoffLimit": 2}


def test_secret_values_survive(tmp_path: Path) -> None:
    root = tmp_path / "app"
    write_project(root, {"web": {"command": ["/bin/true"]}}, dotenv=dotenv_text(SECRETS_ANY))
    export(root, "kubernetes", tmp_path / "out", "--image", "img")
    validate(sorted((tmp_path / "out").iterdir()))
    secret = by_kind(documents(tmp_path / "out" / "app-secrets.yaml"))[("Secret", "app-web-env")]
    assert secret["stringData"] == SECRETS_ANY   # envFrom values are not $(VAR)-expanded


def test_bad_options(tmp_path: Path) -> None:
    write_project(tmp_path, {"a": {"command": ["/bin/true"]}}, dotenv=None)
    for args, message in [
        ((), "error: kubernetes needs --image IMAGE: the image whose filesystem holds the "
             "project"),
        (("--image", "x", "-u", "app"),
         "error: -u/--user 'app': kubernetes takes a numeric uid (runAsUser)"),
        (("--image", "x", "-l", "/var/log"),
         "error: -l/--log is for systemd and supervisord; kubernetes keeps the services' "
         "output itself"),
        (("--image", "x", "-a", "1shop"),
         "error: kubernetes: '1shop-a' is not a valid name"),
    ]:
        result = run_cli(tmp_path, "export", "kubernetes", str(tmp_path / "out"), *args)
        assert result.returncode == 2, result.stderr
        [line] = result.stderr.splitlines()
        assert line.startswith(message)
        assert not (tmp_path / "out").exists()
