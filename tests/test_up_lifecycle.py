"""`orchestra up` lifecycle: exit codes, dependency gates, selection, replicas, inference."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from helpers.orch import PY, Project, describe, py, wait_no_leftovers

TEXT = ("--no-timestamps", "--no-color")
FOREVER = "import time; print('up', flush=True); time.sleep(60)"


def test_all_completed_exits_zero(project: Project) -> None:
    project.yaml({"a": {"command": py("print('a done')")},
                  "b": {"command": py("print('b done')")}})
    result = project.run(*TEXT)
    assert result.rc == 0, result.dump()
    assert result.of("a") == ["a done"] and result.of("b") == ["b done"]
    assert re.search(r"^system +\| a: exited rc=0$", result.text, re.M), result.dump()


@pytest.mark.parametrize(("code", "expected", "message"), [
    ("import sys; sys.exit(3)", 3, r"fails: exited rc=3"),
    ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", 128 + 9,
     r"fails: killed by SIGKILL"),
    ("import os, signal; os.kill(os.getpid(), signal.SIGTERM)", 128 + 15,
     r"fails: killed by SIGTERM"),
])
def test_failing_service_stops_everything_and_sets_exit_code(
        project: Project, code: str, expected: int, message: str) -> None:
    project.yaml({
        "long": {"command": py(FOREVER)},
        "fails": {"command": py(f"import time; time.sleep(0.2); {code}"),
                  "depends_on": ["long"]},
    })
    orch = project.start(*TEXT)
    result = orch.wait(15)
    assert result.rc == expected, result.dump()
    assert re.search(message, result.text), result.dump()
    assert re.search(r"^system +\| long: sending SIGTERM to process group \d+$",
                     result.text, re.M), result.dump()
    assert not wait_no_leftovers(project.mark, 2.0)


def test_missing_executable_exits_127(project: Project) -> None:
    project.yaml({
        "long": {"command": py(FOREVER)},
        "web": {"command": ["gunicorn-not-installed-anywhere", "app:wsgi"]},
    })
    result = project.run(*TEXT)
    assert result.rc == 127, result.dump()
    assert re.search(r"^system +\| web: cannot start: 'gunicorn-not-installed-anywhere' "
                     r"not found$", result.text, re.M), result.dump()


def test_nothing_starts_once_a_failure_began_the_stop(project: Project, tmp_path: Path) -> None:
    started = tmp_path / "started"
    project.yaml({
        "web": {"command": ["gunicorn-not-installed-anywhere", "app:wsgi"]},
        "other": {"command": py(f"open({str(started)!r}, 'w').close()")},
    })
    result = project.run(*TEXT)
    assert result.rc == 127, result.dump()
    assert re.search(r"^system +\| other: skipped: orchestra is stopping$", result.text, re.M), \
        result.dump()
    assert not started.exists(), result.dump()


def test_missing_executable_in_procfile_shell_exits_127(project: Project) -> None:
    project.procfile("web: gunicorn-not-installed-anywhere app:wsgi\n")
    result = project.run(*TEXT)
    assert result.rc == 127, result.dump()


def test_completed_successfully_gates_the_dependent(project: Project) -> None:
    project.yaml({
        "web": {"command": py("print('web runs')"),
                "depends_on": {"migrate": {"condition": "completed_successfully"}}},
        "migrate": {"command": py("import time; time.sleep(0.3); print('migrated')")},
    })
    result = project.run(*TEXT)
    assert result.rc == 0, result.dump()
    migrated = result.index(r"^migrate +\| migrated$")
    exited = result.index(r"^system +\| migrate: exited rc=0$")
    started = result.index(r"^system +\| web: started pid=\d+$")
    assert migrated < exited < started < result.index(r"^web +\| web runs$"), result.dump()


def test_failed_one_shot_skips_its_dependents(project: Project) -> None:
    project.yaml({
        "migrate": {"command": py("import sys; print('migration broke'); sys.exit(4)")},
        "web": {"command": py("print('web must not run')"),
                "depends_on": {"migrate": {"condition": "completed_successfully"}}},
        "api": {"command": py("print('api must not run')"), "depends_on": ["web"]},
    })
    result = project.run(*TEXT)
    assert result.rc == 4, result.dump()
    assert "must not run" not in result.text, result.dump()
    assert not re.search(r"(web|api): started", result.text), result.dump()
    assert re.search(r"^system +\| web: skipped: dependency 'migrate' failed \(",
                     result.text, re.M), result.dump()
    assert re.search(r"^system +\| api: skipped: ", result.text, re.M), result.dump()


ENV_REPORT = ("import os; print(os.environ['PS'], os.environ.get('PORT'), "
              "os.environ['ORCHESTRA_SERVICE'], os.environ.get('PYTHONUNBUFFERED'))")


def test_yaml_replicas_names_and_environment(project: Project) -> None:
    project.yaml({"web": {"command": py(ENV_REPORT), "replicas": 3, "port": 8000},
                  "db": {"command": py(ENV_REPORT)}})
    result = project.run(*TEXT)
    assert result.rc == 0, result.dump()
    for n in (1, 2, 3):
        assert result.of(f"web.{n}") == [f"web.{n} {8000 + n - 1} web 1"], result.dump()
    assert result.of("db") == ["db.1 None db 1"], result.dump()
    assert not result.of("web"), "replicas are named web.N only"
    widths = {line.index("|") for line in result.lines}
    assert len(widths) == 1, f"names are not padded to one width:\n{result.text}"


def test_each_replica_interpolates_its_own_port_and_name(project: Project) -> None:
    """`${PORT}` and `${PS}` in orchestra.yaml are each instance's own, in every field."""
    report = ("import os, sys; print(sys.argv[1], sys.argv[2], os.environ['URL'], "
              "os.environ['PORT'], os.environ['PS'])")
    project.yaml({"web": {"command": [PY, "-c", report, "${PORT}", "${PS}"],
                          "env": {"URL": "http://127.0.0.1:${PORT}/"},
                          "replicas": 3, "port": 18300}})
    result = project.run(*TEXT)
    assert result.rc == 0, result.dump()
    for n in (1, 2, 3):
        port = 18300 + n - 1
        assert result.of(f"web.{n}") == [
            f"{port} web.{n} http://127.0.0.1:{port}/ {port} web.{n}"], result.dump()
    beyond = project.run(*TEXT, "-c", "web=4")
    assert beyond.rc == 2, beyond.dump()
    assert b"set `replicas: 4`" in beyond.err, beyond.dump()


def test_a_port_from_a_variable_interpolates_per_instance(project: Project) -> None:
    project.yaml({"web": {"command": [PY, "-c", "import sys; print(*sys.argv[1:])",
                                      "${PORT}", "${PS}"],
                          "port": "${WEB_PORT:-18400}", "replicas": 2}})
    result = project.run(*TEXT)
    assert result.rc == 0, result.dump()
    assert result.of("web.1") == ["18400 web.1"] and result.of("web.2") == ["18401 web.2"], \
        result.dump()
    beyond = project.run(*TEXT, "-c", "web=3")
    assert beyond.rc == 2 and b"set `replicas: 3`" in beyond.err, beyond.dump()


def test_one_replica_is_checked_as_one_instance(project: Project) -> None:
    """Its instance 2 would need port 65536, but there is no instance 2 (and -c may not make
    one, since its settings depend on the instance)."""
    project.yaml({"web": {"command": "echo ${PS}", "port": 65535,
                          "readiness": {"tcp": "${PORT}", "start_period": "1s"}}})
    result = project.run(*TEXT, "--abort-on-exit")
    assert result.rc == 0 and result.of("web") == ["web.1"], result.dump()
    more = project.run(*TEXT, "-c", "web=2")
    assert more.rc == 2 and b"set `replicas: 2`" in more.err, more.dump()


def test_port_flag_gives_yaml_interpolation_the_ports_the_processes_get(project: Project) -> None:
    echo = [PY, "-c", "import os, sys; print(sys.argv[1], os.environ['PORT'])", "${PORT}"]
    project.yaml({"db": {"command": echo}, "web": {"command": echo, "replicas": 2}})
    result = project.run(*TEXT, "-p", "7000")
    assert result.rc == 0, result.dump()
    assert result.of("db") == ["7000 7000"], result.dump()
    assert result.of("web.1") == ["7100 7100"] and result.of("web.2") == ["7101 7101"], \
        result.dump()


def test_procfile_formation_ports_and_names(project: Project) -> None:
    report = f"{shlex.quote(PY)} -c {shlex.quote(ENV_REPORT)}"
    project.procfile(f"web: {report}\nworker: {report}\nclock: {report}\n")
    result = project.run(*TEXT, "-c", "web=2,worker=1,clock=0", "-p", "6000")
    assert result.rc == 0, result.dump()
    assert result.of("web.1") == ["web.1 6000 web 1"], result.dump()
    assert result.of("web.2") == ["web.2 6001 web 1"], result.dump()
    assert result.of("worker.1") == ["worker.1 6100 worker 1"], result.dump()
    assert "clock" not in result.text


@pytest.mark.parametrize(("env", "base"), [({}, 5000), ({"PORT": "7000"}, 7000)])
def test_procfile_base_port(project: Project, env: dict[str, str], base: int) -> None:
    report = f"{shlex.quote(PY)} -c {shlex.quote(ENV_REPORT)}"
    project.procfile(f"web: {report}\nworker: {report}\n")
    result = project.run(*TEXT, env=env)
    assert result.rc == 0, result.dump()
    assert result.of("web.1") == [f"web.1 {base} web 1"], result.dump()
    assert result.of("worker.1") == [f"worker.1 {base + 100} worker 1"], result.dump()


def test_up_named_service_starts_it_and_its_dependencies_only(project: Project) -> None:
    project.yaml({
        "db": {"command": py("print('db ran')")},
        "cache": {"command": py("print('cache ran')")},
        "web": {"command": py("print('web ran')"), "depends_on": ["db"]},
        "other": {"command": py("print('other ran')")},
    })
    result = project.run(*TEXT, "web")
    assert result.rc == 0, result.dump()
    assert result.of("db") == ["db ran"] and result.of("web") == ["web ran"], result.dump()
    assert "other" not in result.text and "cache" not in result.text, result.dump()


def test_missing_run_directory_is_reported_as_cannot_start(
        project: Project, tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    project.yaml({
        # the directory exists when the config is checked, and is gone when web starts
        "cleanup": {"command": py(f"import os; os.rmdir({str(gone)!r}); print('removed')")},
        "web": {"command": py("print('web must not run')"), "dir": "./gone",
                "depends_on": {"cleanup": {"condition": "completed_successfully"}}},
    })
    result = project.run(*TEXT)
    assert result.rc != 0, result.dump()
    assert "must not run" not in result.text
    assert re.search(r"^system +\| web: cannot start: .*gone", result.text, re.M), result.dump()


def test_command_is_inferred_for_a_python_package_dir(project: Project, tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "__main__.py").write_text(
        "import os, sys\nprint('inferred', os.path.basename(os.getcwd()), sys.argv[0])\n")
    project.yaml({"app": {"dir": "./app"}})
    result = project.run(*TEXT)
    assert result.rc == 0, result.dump()
    assert result.of("app") == ["inferred app ."], result.dump()
    left = wait_no_leftovers(project.mark, 2.0)
    assert not left, describe(left)
