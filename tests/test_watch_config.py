"""`watch:` and `depends_on.NAME.restart` as configuration: what the model holds, what
`orchestra config` shows, the mistakes reported with file:line (nothing started), and which
changed paths concern which service (`runtime/watch_paths.py`, a pure function)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from helpers.cli import Cli
from helpers.orch import Project
from test_build import load, problems, service

from orchestra.cli.config_view import spec_data
from orchestra.config.model import WatchAction
from orchestra.config.model_parts import DEFAULT_WATCH_DEBOUNCE, Watch
from orchestra.runtime.watch_paths import concerns, describe, watch_roots

FILES = {"app/src/main.py": "", "app/templates/a.html": "", "app/setup.cfg": ""}


def test_the_short_form_is_a_list_of_paths_relative_to_dir(tmp_path: Path) -> None:
    web = service(tmp_path, "command: x\ndir: app\nwatch: [src, setup.cfg]\n", FILES)
    assert web.watch == Watch((tmp_path / "app/src", tmp_path / "app/setup.cfg"))
    assert web.watch.debounce == DEFAULT_WATCH_DEBOUNCE == 0.3
    assert web.watch.action is WatchAction.RESTART


def test_a_single_path_is_a_list_of_one(tmp_path: Path) -> None:
    web = service(tmp_path, "command: x\nwatch: app\n", FILES)
    assert web.watch is not None and web.watch.paths == (tmp_path / "app",)


def test_the_long_form(tmp_path: Path) -> None:
    web = service(tmp_path, """\
        command: x
        dir: app
        watch: {paths: [src, templates], ignore: ["*.log", gen/], debounce: 1s500ms,
                action: signal, signal: USR1}
        """, FILES)
    assert web.watch == Watch((tmp_path / "app/src", tmp_path / "app/templates"),
                              ("*.log", "gen/"), 1.5, WatchAction.SIGNAL, signal.SIGUSR1)


def test_signal_defaults_to_sighup(tmp_path: Path) -> None:
    web = service(tmp_path, "command: x\nwatch: {paths: [app], action: signal}\n", FILES)
    assert web.watch is not None and web.watch.signal == signal.SIGHUP


def test_depends_on_restart(tmp_path: Path) -> None:
    spec = load(tmp_path, """\
        services:
          api: {command: x}
          web:
            command: x
            depends_on: {api: {condition: started, restart: true}, db: {}}
          db: {command: x}
        """)
    restart = {d.service: d.restart for d in spec.service("web").depends_on}
    assert restart == {"api": True, "db": False}


def test_config_shows_the_watch_settings(tmp_path: Path) -> None:
    spec = load(tmp_path, """\
        services:
          api:
            command: x
            dir: app
            watch: {paths: [src], ignore: ["*.tmp"], action: signal}
            readiness: {log: up}
          web:
            command: x
            depends_on: {api: {condition: ready, restart: true}}
        """, FILES)
    data = spec_data(spec)["services"]
    assert isinstance(data, dict)
    assert data["api"]["watch"] == {"paths": [str(tmp_path / "app/src")], "ignore": ["*.tmp"],
                                    "debounce": 0.3, "action": "signal", "signal": "SIGHUP"}
    assert data["web"]["depends_on"] == {"api": {"condition": "ready", "restart": True}}
    assert "watch" not in data["web"]


@pytest.mark.parametrize(("body", "expected"), [
    ("watch: [app, nope]\n", "4:18: services.web.watch[1]: watch path 'nope' does not exist"),
    ("watch: {paths: nope}\n", "4:20: services.web.watch.paths: watch path 'nope' does not"),
    ("watch: {paths: app, action: reload}\n",
     "4:33: services.web.watch.action: invalid watch action 'reload' (expected restart or "
     "signal)"),
    ("watch: {paths: app, action: signal, signal: SIGNOPE}\n",
     "4:49: services.web.watch.signal: invalid signal 'SIGNOPE'"),
    ("watch: {paths: app, signal: HUP}\n",
     "4:25: services.web.watch.signal: a signal is sent only with `action: signal`"),
    ("watch: {paths: app, debounce: soon}\n", "4:35: services.web.watch.debounce: invalid"),
    ("watch: {ignore: [x]}\n", "services.web.watch: "),
    ("watch: []\n", "4:12: services.web.watch: watch must not be an empty list"),
    ("depends_on: {db: {restart: yes}}\n",
     "4:32: services.web.depends_on.db.restart: expected true or false, got 'yes'"),
])
def test_mistakes_are_reported_where_they_are(tmp_path: Path, body: str, expected: str) -> None:
    text = "services:\n  web:\n    command: x\n    " + body + "  db: {command: x}\n"
    found = problems(tmp_path, text, FILES)
    assert len(found) == 1, found
    assert expected in str(found[0]), str(found[0])


def test_a_missing_watch_path_stops_up_before_anything_starts(project: Project) -> None:
    marker = project.root / "started"
    project.yaml({"web": {"command": f"touch {marker}", "watch": ["src"]}})
    result = Cli(project).run("up", "--no-color")
    assert result.rc == 2, result.dump()
    lines = result.err.decode().splitlines()
    assert lines[0].endswith(f"services.web.watch[0]: watch path 'src' does not exist "
                             f"({project.root.resolve() / 'src'})"), result.dump()
    assert ":6:5:" in lines[0] and not result.text and not marker.exists(), result.dump()


def test_up_watch_without_any_watch_is_a_usage_error(project: Project) -> None:
    project.yaml({"web": {"command": ["echo", "hi"]}})
    cli = Cli(project)
    result = cli.run("up", "--watch", "--no-color")
    assert result.rc == 2, result.dump()
    assert b"--watch: no service of this run has a `watch:` setting" in result.err
    both = cli.run("up", "--watch", "--no-watch", "--no-color")
    assert both.rc == 2 and b"contradict" in both.err, both.dump()


# --------------------------------------------------------------------------- which changes

ROOT = Path("/p")


def watch(*paths: str, ignore: tuple[str, ...] = ()) -> Watch:
    return Watch(tuple(ROOT / p for p in paths), ignore)


@pytest.mark.parametrize(("settings", "changed", "expected"), [
    (watch("src"), "src/app.py", True),
    (watch("src"), "src/deep/er/app.py", True),
    (watch("src"), "srcx/app.py", False),
    (watch("src"), "docs/index.md", False),
    (watch("setup.cfg"), "setup.cfg", True),
    (watch("src"), "src", True),
    # the default ignores, anywhere below the watched path
    (watch("src"), "src/.git/index", False),
    (watch("src"), "src/pkg/__pycache__/app.cpython-311.pyc", False),
    (watch("."), "node_modules/x/index.js", False),
    (watch("src"), "src/.app.py.swp", False),
    (watch("src"), "src/app.py~", False),
    (watch("src"), "src/.#app.py", False),
    (watch("src"), "src/4913", False),
    (watch("."), ".orchestra/sock", False),
    # names above the watched path do not count
    (watch("node_modules/mylib"), "node_modules/mylib/index.js", True),
    # the user's patterns: a name anywhere below, or a path relative to dir
    (watch("src", ignore=("*.log",)), "src/a/b.log", False),
    (watch("src", ignore=("*.log",)), "src/a/b.py", True),
    (watch("src", ignore=("gen",)), "src/gen/x.py", False),
    (watch("src", ignore=("src/gen/",)), "src/gen/deep/x.py", False),
    (watch("src", ignore=("src/gen/",)), "src/other/gen.py", True),
    (watch("src", ignore=("src/*.tmp",)), "src/x.tmp", False),
    (watch("src", ignore=("./src/x.py",)), "src/x.py", False),
    # a name pattern looks below the watched path: it cannot undo a path the user named
    (watch("src", "lib", ignore=("lib",)), "lib/x.py", True),
])
def test_which_changes_concern_a_service(settings: Watch, changed: str, expected: bool) -> None:
    assert concerns(settings, ROOT, ROOT / changed) is expected


def test_the_union_of_paths_watches_each_folder_once(tmp_path: Path) -> None:
    for folder in ("src/a", "lib", "etc"):
        (tmp_path / folder).mkdir(parents=True)
    for file in ("src/a/x.py", "etc/site.ini", "setup.cfg"):
        (tmp_path / file).write_text("")
    paths = [tmp_path / p for p in ("src", "src/a", "lib", "src", "src/a/x.py", "etc/site.ini",
                                    "setup.cfg")]
    folders, parents = watch_roots(paths)
    assert sorted(folders) == [tmp_path / "lib", tmp_path / "src"]
    # files outside those folders: through their own folders, not recursively
    assert parents == [tmp_path, tmp_path / "etc"]
    assert watch_roots([tmp_path / "src/a", tmp_path]) == ([tmp_path], [])


def test_what_changed_is_told_briefly() -> None:
    assert describe([ROOT / "src/b.py", ROOT / "src/a.py"], ROOT) == "src/a.py and 1 more"
    assert describe([Path("/elsewhere/x")], ROOT) == "/elsewhere/x"
