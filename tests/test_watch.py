"""`watch:` with real files and processes: a save restarts the service once (a new process,
readiness awaited again) and the dependents that opted in with `restart: true`; a burst of
saves restarts it once; ignored paths do not; `action: signal` signals instead;
`up --no-watch` turns it off. Every wait is bounded; the fixtures kill what is left."""

from __future__ import annotations

import re
import shutil
import signal
from pathlib import Path

from helpers.cli import TEXT
from helpers.orch import Orchestra, Project, Result, alive, py, wait_gone


def announcing(name: str) -> list[str]:
    """A service that prints `NAME up PID` and stays up."""
    return py(f"""
        import os, time
        print("{name} up", os.getpid(), flush=True)
        time.sleep(600)
    """)


def stack(project: Project, watch: object) -> None:
    """web watches src; worker restarts with it (restart: true); other depends on it only."""
    (project.root / "src").mkdir(exist_ok=True)
    (project.root / "src/app.py").write_text("v = 0\n")
    project.yaml({
        "web": {"command": announcing("web"), "watch": watch,
                "readiness": {"log": "web up"}},
        "worker": {"command": announcing("worker"),
                   "depends_on": {"web": {"condition": "ready", "restart": True}}},
        "other": {"command": announcing("other"),
                  "depends_on": {"web": {"condition": "ready"}}},
    })


def up(project: Project, *args: str) -> Orchestra:
    orch = project.start(*TEXT, *args)
    orch.wait_for(r"^worker +\| worker up \d+$", 20)
    orch.wait_for(r"^other +\| other up \d+$", 20)
    return orch


def pids(text: str, name: str) -> list[int]:
    return [int(p) for p in re.findall(rf"^{name} +\| {name} up (\d+)$", text, re.M)]


def restarts(text: str) -> list[str]:
    return re.findall(r"^system +\| web: (.*) changed; ", text, re.M)


def stop(orch: Orchestra) -> Result:
    orch.send(signal.SIGINT)
    result = orch.wait(20)
    assert result.rc == 130, result.dump()
    return result


def test_a_save_restarts_the_service_and_its_opted_in_dependents(project: Project) -> None:
    stack(project, ["src"])
    orch = up(project)
    first = {name: pids(orch.output(), name)[0] for name in ("web", "worker", "other")}
    (project.root / "src/app.py").write_text("v = 1\n")
    orch.wait_for(r"web: src/app\.py changed; restarting with worker \(restart: true\)$", 15)
    orch.wait_for(r"(?s)^worker +\| worker up \d+$.*^worker +\| worker up \d+$", 20)
    result = stop(orch)
    text = result.text
    web, worker = pids(text, "web"), pids(text, "worker")
    assert len(web) == 2 and web[1] != web[0], result.dump()
    assert len(worker) == 2 and worker[1] != worker[0], result.dump()
    assert pids(text, "other") == [first["other"]], result.dump()   # not opted in
    assert len(re.findall(r"web: ready: ", text)) == 2, result.dump()
    # the worker starts again only once web is ready again
    assert text.index(f"worker up {worker[1]}") > text.rindex("web: ready: "), result.dump()
    assert restarts(text) == ["src/app.py"], result.dump()
    assert not wait_gone([*web, *worker, first["other"]], 5)


def test_a_save_leaves_a_service_stopped_on_request_stopped(project: Project,
                                                              runtime: Path) -> None:
    """`orchestra stop web` (to run it by hand in a debugger, on the same port): a save under
    its `watch` paths does not start it again behind the user's back, nor restart what
    restarts with it; `orchestra restart web` does, and the watcher acts again after it."""
    from helpers.cli import Cli

    cli = Cli(project, {"XDG_RUNTIME_DIR": str(runtime)})
    try:
        stack(project, ["src"])
        orch = cli.start("up", *TEXT)
        orch.wait_for(r"^worker +\| worker up \d+$", 20)
        assert cli.run("stop", "web").rc == 0
        (project.root / "src/app.py").write_text("v = 1\n")
        said = orch.wait_for(r"^system +\| web: src/app\.py changed; (.*)$", 15)
        assert said[1] == "not restarted: stopped on request", orch.output()
        assert cli.run("restart", "web").rc == 0
        orch.wait_for(r"(?s)(web: ready: .*){2}", 20)
        (project.root / "src/app.py").write_text("v = 2\n")
        orch.wait_for(r"web: src/app\.py changed; restarting with worker", 15)
        orch.wait_for(r"(?s)(web: ready: .*){3}", 20)
        result = stop(orch)
        assert len(pids(result.text, "web")) == 3, result.dump()
        assert len(pids(result.text, "worker")) == 2, result.dump()   # once, with the save
    finally:
        cli.close()


def test_a_burst_of_saves_restarts_once(project: Project) -> None:
    stack(project, {"paths": ["src"], "debounce": "400ms"})
    orch = up(project)
    for n in range(10):   # far quicker than the debounce: one burst
        (project.root / "src/app.py").write_text(f"v = {n}\n")
        (project.root / f"src/new{n}.py").write_text("")
    orch.wait_for(r"web: src/app\.py and 10 more changed; restarting", 15)
    orch.wait_for(r"(?s)web: ready: .*web: ready: ", 20)
    # a later, separate save: every restart the burst caused is reported before this one's
    (project.root / "src/later.py").write_text("")
    orch.wait_for(r"web: src/later\.py changed; restarting", 15)
    orch.wait_for(r"(?s)(web: ready: .*){3}", 20)
    result = stop(orch)
    assert restarts(result.text) == ["src/app.py and 10 more", "src/later.py"], result.dump()
    assert len(set(pids(result.text, "web"))) == 3, result.dump()


def test_ignored_paths_do_not_restart(project: Project) -> None:
    stack(project, {"paths": ["src"], "ignore": ["*.log", "src/generated/"]})
    src = project.root / "src"
    orch = up(project)
    for relative in ("x.log", "generated/code.py", "__pycache__/app.cpython-311.pyc",
                     ".app.py.swp", "app.py~", ".git/index", "node_modules/m/index.js"):
        (src / relative).parent.mkdir(parents=True, exist_ok=True)
        (src / relative).write_text("ignored\n")
    # one file that counts, afterwards: had any of the above counted, it would be named in
    # this restart's line (same burst) or in an earlier restart
    (src / "real.py").write_text("")
    orch.wait_for(r"web: src/real\.py changed; restarting", 15)
    orch.wait_for(r"(?s)web: ready: .*web: ready: ", 20)
    result = stop(orch)
    assert restarts(result.text) == ["src/real.py"], result.dump()


def test_action_signal_sends_the_signal_instead(project: Project) -> None:
    (project.root / "conf").mkdir()
    project.yaml({"web": {
        "command": py("""
            import os, signal, time
            signal.signal(signal.SIGUSR1, lambda *_: print("reloading", flush=True))
            print("web up", os.getpid(), flush=True)
            while True:
                time.sleep(1)
        """),
        "readiness": {"log": "web up"},
        "watch": {"paths": ["conf"], "action": "signal", "signal": "USR1"}}})
    orch = project.start(*TEXT)
    orch.wait_for(r"web: ready: ", 20)
    (project.root / "conf/site.ini").write_text("x = 1\n")
    orch.wait_for(r"web: conf/site\.ini changed; sending SIGUSR1 to its process group$", 15)
    orch.wait_for(r"^web +\| reloading$", 10)
    (project.root / "conf/site.ini").write_text("x = 2\n")
    orch.wait_for(r"(?s)reloading.*^web +\| reloading$", 15)
    result = stop(orch)
    assert len(pids(result.text, "web")) == 1, result.dump()   # the same process throughout
    assert "restarting" not in result.text, result.dump()


def test_a_watched_file_saved_by_rename_is_still_watched(project: Project) -> None:
    """Editors save by writing a new file and renaming it over the old one: the file's
    inode changes at each save, and every save must still count."""
    config = project.root / "site.ini"
    config.write_text("v = 0\n")
    project.yaml({"web": {"command": announcing("web"), "readiness": {"log": "web up"},
                          "watch": {"paths": ["site.ini"], "debounce": "100ms"}}})
    orch = project.start(*TEXT)
    orch.wait_for(r"web: ready: ", 20)
    for n in (1, 2):
        fresh = project.root / f".site.ini.new{n}"
        fresh.write_text(f"v = {n}\n")
        fresh.replace(config)
        orch.wait_for(rf"(?s)(web: site\.ini changed; restarting.*){{{n}}}web: ready: ", 20)
    (project.root / "unrelated.txt").write_text("")   # beside it, not watched
    result = stop(orch)
    assert restarts(result.text) == ["site.ini", "site.ini"], result.dump()


def test_no_watch_switches_it_off(project: Project) -> None:
    stack(project, {"paths": ["src"], "debounce": "100ms"})
    orch = up(project, "--no-watch")
    first = pids(orch.output(), "web")
    (project.root / "src/app.py").write_text("v = 1\n")
    (project.root / "src/new.py").write_text("")
    # nothing to wait for when nothing happens: ten times the debounce, and the watcher
    # would have reacted well within it (the tests above see it react)
    try:
        orch.wait_for(r"changed; restarting|watching files", 1.0)
    except AssertionError:
        pass
    else:
        raise AssertionError(f"a restart or a watcher with --no-watch:\n{orch.output()}")
    result = stop(orch)
    assert pids(result.text, "web") == first and alive(first[0]) is False, result.dump()


def test_the_watcher_announces_what_it_watches(project: Project) -> None:
    stack(project, ["src", "src/app.py"])
    orch = up(project)
    orch.wait_for(r"^system +\| watching files: web: src, src/app\.py$", 5)
    stop(orch)


#: A web service that takes a second to stop, watching src/.
SLOW_STOPPING_WEB = {
    "command": py("""
        import os, signal, sys, time
        def slow_stop(*_):
            print("stopping", flush=True)
            time.sleep(1)
            sys.exit(0)
        signal.signal(signal.SIGTERM, slow_stop)
        print("web up", os.getpid(), flush=True)
        while True:
            time.sleep(1)
    """),
    "readiness": {"log": "web up"},
    "watch": {"paths": ["src"], "debounce": "100ms"}}


def test_a_change_while_restarting_restarts_once_more(project: Project, tmp_path: Path) -> None:
    """A save that arrives while the service stops is not lost: it restarts it again."""
    (project.root / "src").mkdir()
    project.yaml({"web": SLOW_STOPPING_WEB})
    orch = project.start(*TEXT)
    orch.wait_for(r"web: ready: ", 20)
    (project.root / "src/a.py").write_text("")
    orch.wait_for(r"^web +\| stopping$", 15)
    (project.root / "src/b.py").write_text("")   # during the slow stop
    orch.wait_for(r"(?s)web: src/b\.py changed; restarting.*web: ready: ", 20)
    result = stop(orch)
    assert re.findall(r"web: (.*) changed; restarting", result.text) == [
        "src/a.py", "src/b.py"], result.dump()


def test_its_own_output_file_in_a_watched_folder_restarts_nothing(project: Project) -> None:
    """`orchestra up > dev.log` in the watched folder: each restart writes lines to the log,
    which would restart the service again, for ever."""
    import subprocess
    import time

    from helpers.orch import PY

    (project.root / "src").mkdir()
    project.yaml({"web": {"command": announcing("web"), "watch": ["."]}})
    log = project.root / "dev.log"

    def wait_in_log(pattern: str) -> None:
        deadline = time.monotonic() + 15
        while not re.search(pattern, log.read_text(), re.M):
            assert time.monotonic() < deadline, f"no {pattern!r} in:\n{log.read_text()}"
            time.sleep(0.05)

    with log.open("wb") as out:
        proc = subprocess.Popen([PY, "-m", "orchestra", "up", *TEXT], cwd=project.root,
                                env=project.env(), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_in_log(r"^web +\| web up \d+$")
        (project.root / "src/a.py").write_text("")
        wait_in_log(r"(?s)changed; restarting.*^web +\| web up \d+$")
        (project.root / "src/b.py").write_text("")   # every restart before it is in the log
        wait_in_log(r"web: src/b\.py changed; restarting")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert restarts(log.read_text()) == ["src/a.py", "src/b.py"], log.read_text()


def test_a_change_during_an_orchestra_restart_starts_it_once(project: Project,
                                                              runtime: Path) -> None:
    """`orchestra restart web` and a save that restarts web while it stops: both wait for
    the same stop; the first to go on starts web again, the other finds it started and
    leaves it (it used to fail on starting a runner that was not over)."""
    from helpers.cli import Cli

    cli = Cli(project, {"XDG_RUNTIME_DIR": str(runtime)})
    try:
        (project.root / "src").mkdir()
        project.yaml({"web": SLOW_STOPPING_WEB})
        orch = cli.start("up", *TEXT)
        orch.wait_for(r"web: ready: ", 20)
        restart = cli.start("restart", "web")
        orch.wait_for(r"^web +\| stopping$", 15)
        (project.root / "src/a.py").write_text("")   # during the slow stop
        orch.wait_for(r"web: src/a\.py changed; restarting", 15)
        assert restart.wait(15).rc == 0
        orch.wait_for(r"(?s)(web: ready: .*){2}", 20)
        (project.root / "src/b.py").write_text("")   # the watcher still acts afterwards
        orch.wait_for(r"(?s)web: src/b\.py changed; restarting.*web: ready: ", 20)
        result = stop(orch)
        assert "could not act" not in result.text and "Error" not in result.text, result.dump()
        assert len(pids(result.text, "web")) == 3, result.dump()
    finally:
        cli.close()


def test_a_change_while_a_needed_dependency_is_stopped_keeps_the_stack_up(
        project: Project, runtime: Path) -> None:
    """web needs db ready and db was stopped with `orchestra stop`: a save in web's folder
    cannot start web again (it would be skipped, which ends the stack with exit 1), so web
    is left as it is and orchestra says why."""
    from helpers.cli import Cli

    (project.root / "src").mkdir()
    project.yaml({
        "db": {"command": announcing("db"), "readiness": {"log": "db up"}},
        "web": {"command": announcing("web"), "watch": ["src"],
                "depends_on": {"db": {"condition": "ready"}}},
    })
    cli = Cli(project, {"XDG_RUNTIME_DIR": str(runtime)})
    try:
        orch = cli.start("up", *TEXT)
        orch.wait_for(r"^web +\| web up \d+$", 20)
        assert cli.run("stop", "db").rc == 0
        orch.wait_for(r"db: stopped by SIGTERM")
        (project.root / "src/app.py").write_text("v = 1\n")
        orch.wait_for(r"web: src/app\.py changed; not restarted: it needs db \(condition "
                      r"ready\), which has been stopped", 15)
        assert orch.proc.poll() is None, orch.output()
        assert len(pids(orch.output(), "web")) == 1, orch.output()
        assert cli.run("down").rc == 0
        result = orch.wait(15)
        assert result.rc == 0, result.dump()
    finally:
        cli.close()


def test_a_watched_folder_deleted_and_made_again_is_still_watched(project: Project) -> None:
    """`git checkout`, `git stash` or a code generator remove a folder and make it again:
    the re-creation counts as a change, and later changes in the new folder are seen."""
    stack(project, {"paths": ["src"], "debounce": "100ms"})
    orch = up(project)
    src = project.root / "src"
    for entry in src.iterdir():
        entry.unlink()
    src.rmdir()
    src.mkdir()
    orch.wait_for(r"(?s)web: src( and 1 more)? changed; restarting.*^web +\| web up \d+\n", 20)
    (src / "fresh.py").write_text("v = 1\n")
    orch.wait_for(r"(?s)web: src/fresh\.py changed; restarting.*^web +\| web up \d+\n", 20)
    result = stop(orch)
    assert restarts(result.text)[-1] == "src/fresh.py", result.dump()
    assert len(pids(result.text, "web")) == 3, result.dump()


def test_a_nested_watch_is_kept_when_the_folder_above_it_is_made_again(
        project: Project) -> None:
    """`watch: [src/app]`, then `src` itself deleted and made again with `src/app` inside
    (a `git checkout` of another branch): the re-creation counts as a change, and later
    changes in the new `src/app` are seen. The watch of `src/app` ended with the old
    folder, and so did that of `src`, which holds it: the project folder sees `src` come
    back."""
    app = project.root / "src/app"
    app.mkdir(parents=True)
    (app / "main.py").write_text("v = 0\n")
    stack(project, {"paths": ["src/app"], "debounce": "100ms"})
    orch = up(project)
    shutil.rmtree(project.root / "src")
    # the deletion is seen (a restart) before `src` comes back, as after a checkout
    orch.wait_for(r"(?s)web: src/app.* changed; restarting.*^web +\| web up \d+\n", 20)
    app.mkdir(parents=True)
    (app / "main.py").write_text("v = 1\n")
    orch.wait_for(r"(?ms)(^system +\| web: src/app[^\n]* changed; restarting[^\n]*$"
                  r".*?^web +\| web up \d+$.*?){2}", 20)
    (app / "fresh.py").write_text("v = 2\n")
    orch.wait_for(r"(?s)web: src/app/fresh\.py changed; restarting.*^web +\| web up \d+\n", 20)
    result = stop(orch)
    assert restarts(result.text)[-1] == "src/app/fresh.py", result.dump()
    assert len(pids(result.text, "web")) == 4, result.dump()


def test_a_watched_file_is_seen_again_when_its_folder_is_made_again(project: Project) -> None:
    """`watch: [conf/site.ini]`, then `conf` deleted and, later, made again with the file
    written at once (a restore, `tar x`, a checkout that brings the folder back): the file is
    there before its folder's new watch is, and its return still counts as a change, as a
    watched folder's does, so the service does not go on with the file missing."""
    conf = project.root / "conf"
    conf.mkdir()
    (conf / "site.ini").write_text("v = 0\n")
    project.yaml({"web": {"command": announcing("web"), "readiness": {"log": "web up"},
                          "watch": {"paths": ["conf/site.ini"], "debounce": "100ms"}}})
    orch = project.start(*TEXT)
    orch.wait_for(r"web: ready: ", 20)
    shutil.rmtree(conf)
    orch.wait_for(r"(?s)web: conf/site\.ini changed; restarting.*^web +\| web up \d+\n", 20)
    conf.mkdir()
    (conf / "site.ini").write_text("v = 1\n")
    orch.wait_for(r"(?s)(.*?web: conf/site\.ini changed; restarting.*?^web +\| web up \d+\n)"
                  r"{2}", 20)
    (conf / "site.ini").write_text("v = 2\n")   # and the new folder is watched
    orch.wait_for(r"(?s)(.*?web: conf/site\.ini changed; restarting.*?^web +\| web up \d+\n)"
                  r"{3}", 20)
    result = stop(orch)
    assert restarts(result.text) == ["conf/site.ini"] * 3, result.dump()
    assert len(pids(result.text, "web")) == 4, result.dump()
