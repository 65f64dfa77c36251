"""`orchestra tui`: textual's headless driver against a real stack that `orchestra up` runs
in another process; the view is a client of its control socket and nothing more."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from helpers.cli import TEXT, Cli
from helpers.orch import PY, Orchestra, Project, Result, alive, py, select_read, wait_gone
from helpers.terminal import OnTerminal
from textual.pilot import Pilot

from orchestra.control.paths import project_name, socket_path
from orchestra.tui.app import STOPPED, StackApp
from orchestra.tui.graph import graph_of
from orchestra.tui.screens import ConfirmDown
from orchestra.tui.source import CpuMeter
from orchestra.tui.widgets import COLUMNS, InstanceTable, LogPanel, format_line

#: psutil reads Linux's process table from /proc: with /proc hidden, usage shows as "-".
USAGE_KNOWN = sys.platform != "linux" or os.path.isdir("/proc/self")

TICK = py("""
    import time
    while True:
        print('tick', flush=True)
        time.sleep(0.1)
""")
FRUIT = py("""
    import itertools, time
    for n in itertools.count():
        print('apple' if n % 2 else 'banana', n, flush=True)
        time.sleep(0.05)
""")
SERVICES = {
    "migrate": {"command": py("print('migrated')")},
    "web": {"command": TICK, "readiness": {"log": "tick"},
            "depends_on": {"migrate": {"condition": "completed_successfully"}}},
    "fruit": {"command": FRUIT},
}


@pytest.fixture
def cli(project: Project, runtime: Path) -> Iterator[Cli]:
    tool = Cli(project, {"XDG_RUNTIME_DIR": str(runtime)})
    yield tool
    tool.close()


#: What `_running` waits for by default: SERVICES are up, web ready, fruit printing.
STARTED = (r"system +\| web: ready", r"fruit +\| apple")


def _running(cli: Cli, project: Project, services: Mapping[str, object] = SERVICES,
             until: Sequence[str] = STARTED) -> Orchestra:
    """`orchestra up` of `services`, once its output has shown each pattern of `until`."""
    project.yaml(services)
    up = cli.start("up", *TEXT)
    for pattern in until:
        up.wait_for(pattern)
    return up


def _app(project: Project, runtime: Path) -> StackApp:
    path = socket_path(project_name(project.root), {"XDG_RUNTIME_DIR": str(runtime)})
    return StackApp(path, "test", graph_of(project.root / "orchestra.yaml"))


def _in_view(project: Project, runtime: Path,
             steps: Callable[[StackApp, Pilot[str]], Awaitable[None]]) -> StackApp:
    """Run the view headless (80×24) against the project's stack, driven by `steps`; the app,
    once it has ended (`return_value` says how)."""
    app = _app(project, runtime)

    async def scenario() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await steps(app, pilot)

    asyncio.run(scenario())
    return app


async def _until(pilot: Pilot[str], predicate: Callable[[], object], what: Callable[[], str],
                 timeout: float = 10.0) -> None:
    """Let the view run until `predicate()` holds; at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s; saw {what()}")
        await pilot.pause(0.05)


async def _select(pilot: Pilot[str], table: InstanceTable, name: str) -> None:
    """Once `name` has a row, put the cursor on it."""
    await _until(pilot, lambda: name in table.names, lambda: repr(table.names))
    table.move_cursor(row=table.names.index(name))


async def _filter(pilot: Pilot[str], panel: LogPanel, *keys: str, shows: str) -> None:
    """Press `keys`; wait until the log panel's filter is `shows`."""
    await pilot.press(*keys)
    await _until(pilot, lambda: panel.filter == shows, lambda: panel.filter)


def _states(table: InstanceTable) -> dict[str, tuple[str, str]]:
    return {name: (table.cells_of(name)[1], table.cells_of(name)[7]) for name in table.names}


def _down(cli: Cli, up: Orchestra) -> Result:
    """`orchestra down` succeeds, and the stack's `up` then ends with 0; its result."""
    assert cli.run("down").rc == 0
    result = up.wait(10)
    assert result.rc == 0, result.dump()
    return result


def _stopped_cleanly(cli: Cli, up: Orchestra) -> None:
    assert alive(up.pid), "quitting the view stopped the stack"
    assert cli.run("ps").rc == 0
    _down(cli, up)


@contextlib.contextmanager
def _view_on_terminal(cli: Cli, project: Project) -> Iterator[OnTerminal]:
    """`orchestra tui` on a pseudo-terminal, once it shows its footer and a running row (the
    first, selected); at the end `q` quits it, which must exit 0."""
    view = OnTerminal([PY, "-m", "orchestra", "tui"], project.root,
                      project.env({**cli.base_env, "TERM": "xterm-256color"}))
    try:
        view.wait_for(rb"a attaches to a tty service", 20)
        view.wait_for(rb"running", 20)
        yield view
        view.type(b"q")
        assert view.wait(10) == 0, view.text()
    finally:
        view.close()


def _attach(view: OnTerminal, name: str) -> None:
    """`a` on the selected row: the view steps aside for `name`'s terminal."""
    view.type(b"a")
    view.wait_for(rf"attached to {name} \(pid \d+\); Ctrl-\] detaches\r\n".encode(), 10)


def test_rows_filter_graph_and_quit_leave_the_stack_running(cli: Cli, project: Project,
                                                            runtime: Path) -> None:
    up = _running(cli, project)

    async def steps(app: StackApp, pilot: Pilot[str]) -> None:
        table = app.query_one(InstanceTable)
        await _until(pilot, lambda: _states(table).get("web", ("",))[0] == "running"
                     and _states(table)["migrate"][0] == "exited"
                     and (table.cells_of("web")[5] != "-" or not USAGE_KNOWN),
                     lambda: repr(_states(table)))
        assert sorted(table.names) == ["fruit", "migrate", "web"]   # in start order
        assert _states(table)["web"][1].startswith("ready: log /tick/"), _states(table)
        assert _states(table)["fruit"][0] == "running"
        assert table.cells_of("migrate")[2] == "-"    # no pid once it has exited
        assert table.cells_of("web")[2].isdigit() and alive(int(table.cells_of("web")[2]))
        if USAGE_KNOWN:
            assert table.cells_of("web")[6].endswith("M")   # RSS of its group
        else:
            assert table.cells_of("web")[5:7] == ["-", "-"], table.cells_of("web")

        panel = app.query_one(LogPanel)
        await _select(pilot, table, "fruit")
        await _until(pilot, lambda: panel.instance == "fruit"
                     and {"apple", "banana"} <= {w for line in panel.shown()
                                                 for w in line.split()},
                     lambda: f"{panel.instance}: {panel.shown()[-5:]}")
        await _filter(pilot, panel, "slash", *"banana", shows="banana")
        shown = panel.shown()
        assert shown and all("banana" in line for line in shown), shown
        assert all("banana" in line for line in panel.lines), panel.lines[-5:]
        await pilot.press("escape")
        assert panel.filter == "" and any("apple" in line for line in panel.lines)

        await pilot.press("g")
        graph = str(app.screen.query_one("#graph").render())
        assert "web      <- migrate (completed_successfully)" in graph, graph
        assert "fruit    (no dependencies)" in graph, graph
        await pilot.press("escape", "q")

    assert _in_view(project, runtime, steps).return_value is None
    _stopped_cleanly(cli, up)


def test_keys_send_commands_and_down_needs_a_yes(cli: Cli, project: Project,
                                                 runtime: Path) -> None:
    up = _running(cli, project)

    async def steps(app: StackApp, pilot: Pilot[str]) -> None:
        table = app.query_one(InstanceTable)
        await _select(pilot, table, "web")
        old_pid = table.cells_of("web")[2]
        await pilot.press("r")
        await _until(pilot, lambda: app.status_text.startswith("restart web:"),
                     lambda: app.status_text)
        assert app.status_text.startswith("restart web: done"), app.status_text
        await _until(pilot, lambda: table.cells_of("web")[2] not in (old_pid, "-"),
                     lambda: repr(table.cells_of("web")))
        assert app.is_running
        before = app.status_text

        await pilot.press("d", "x")    # the confirmation is open: x does nothing
        assert app.status_text == before and isinstance(app.screen, ConfirmDown)
        await pilot.press("n")
        assert app.status_text == "the stack keeps running" and alive(up.pid)
        await pilot.press("d", "y")
        await _until(pilot, lambda: not app.is_running, lambda: app.status_text)

    assert _in_view(project, runtime, steps).return_value == STOPPED
    result = up.wait(10)
    assert result.rc == 0 and "stopping all services: orchestra down" in result.text


def test_without_a_stack_or_without_textual_one_line_and_exit_1(cli: Cli,
                                                                project: Project) -> None:
    project.yaml(SERVICES)
    result = cli.run("tui")
    assert result.rc == 1, result.dump()
    assert result.err.strip().splitlines() == [
        b"error: no running stack for this project (start it with `orchestra up`)"]

    hidden = ("import sys; sys.modules['textual'] = None; sys.argv[0] = 'orchestra'; "
              "from orchestra.launch import main; main()")
    for args in (["tui"], ["up", "--tui"]):
        orch = Orchestra([PY, "-c", hidden, *args], project.root,
                         project.env(cli.base_env))
        result = orch.wait(20)
        assert result.rc == 1, result.dump()
        assert result.err.strip().splitlines() == [
            b"error: orchestra tui needs textual, which is not installed: "
            b"pip install 'orchestra[tui]'"], result.dump()
        assert result.out == b"", result.dump()   # `up --tui` started nothing


def _terminal(rows: int = 24, columns: int = 80) -> tuple[int, int]:
    """A pseudo-terminal of that size: (master, slave)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    return master, slave


def _read_until(fd: int, needle: bytes, seen: bytearray, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while needle not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {needle!r} on the terminal within {timeout:g} s; "
                                 f"saw {bytes(seen[-2000:])!r}")
        chunk = select_read(fd, left)
        if not chunk:
            raise AssertionError(f"the terminal closed before {needle!r}; "
                                 f"saw {bytes(seen[-2000:])!r}")
        seen.extend(chunk)


def test_up_tui_starts_the_stack_and_quitting_leaves_it_running(cli: Cli, project: Project,
                                                                runtime: Path) -> None:
    project.yaml(SERVICES)
    master, slave = _terminal()
    env = project.env({**cli.base_env, "TERM": "xterm-256color"})
    proc = subprocess.Popen([PY, "-m", "orchestra", "up", "--tui"], cwd=project.root,
                            env=env, stdin=slave, stdout=slave, stderr=slave,
                            start_new_session=True)
    os.close(slave)
    seen = bytearray()
    try:
        _read_until(master, b"instance(s) started", seen, 20)
        _read_until(master, b"Restart", seen, 20)     # the view's footer
        _read_until(master, b"running", seen, 20)     # a row
        os.write(master, b"q")
        _read_until(master, b"keeps running", seen, 20)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        with contextlib.suppress(OSError):
            while select_read(master, 1):
                pass
        os.close(master)
    assert b"the stack keeps running; stop it with `orchestra down`" in seen
    rows = json.loads(cli.run("ps", "--format", "json").out)
    assert {row["name"]: row["state"] for row in rows} == {
        "migrate": "exited", "web": "running", "fruit": "running"}, rows
    assert all(alive(row["pid"]) for row in rows if row["pid"] is not None)
    assert cli.run("down").rc == 0
    assert not wait_gone([row["pid"] for row in rows if row["pid"] is not None], 10)


def test_cpu_is_the_rate_between_two_samples_of_one_group() -> None:
    meter = CpuMeter()
    assert meter.percent(10, 1.0, now=100.0) is None          # nothing to compare with yet
    assert meter.percent(10, 1.5, now=101.0) == pytest.approx(50.0)
    assert meter.percent(11, 0.2, now=101.0) is None          # another group (a restart)
    assert meter.percent(None, None, now=102.0) is None


def test_a_log_line_cannot_drive_the_terminal() -> None:
    text = format_line({"ts": 0.0, "stream": "stderr", "text": "\x1b[2Jgone\rback"})
    assert text.startswith("!") and text.endswith(" \\x1b[2Jgone\\rback"), text
    assert text.isprintable()


def test_the_graph_lists_each_service_with_its_conditions(project: Project) -> None:
    path = project.yaml(SERVICES)
    assert graph_of(path) == ("migrate  (no dependencies)\n"
                              "web      <- migrate (completed_successfully)\n"
                              "fruit    (no dependencies)\n")
    path.write_text("services: [")
    assert graph_of(path).startswith("the dependency graph cannot be read: ")


def test_without_a_terminal_the_view_refuses_before_anything_starts(cli: Cli,
                                                                   project: Project) -> None:
    project.yaml(SERVICES)
    result = cli.run("up", "--tui")     # stdin is /dev/null, stdout a pipe
    assert result.rc == 1, result.dump()
    assert result.err.strip().splitlines() == [
        b"error: orchestra tui needs a terminal (stdin and stdout); use `orchestra ps` and "
        b"`orchestra logs` without one"], result.dump()
    assert result.out == b""
    assert cli.run("ps").rc == 1     # no stack
    up = _running(cli, project)
    assert cli.run("tui").err.strip().endswith(b"without one")
    _stopped_cleanly(cli, up)


def test_a_stack_that_stops_under_the_view_is_reported_not_fatal(cli: Cli, project: Project,
                                                                 runtime: Path) -> None:
    up = _running(cli, project)

    async def steps(app: StackApp, pilot: Pilot[str]) -> None:
        panel = app.query_one(LogPanel)
        await _until(pilot, lambda: panel.instance is not None and panel.shown(),
                     lambda: repr(panel.shown()))
        down = await asyncio.to_thread(cli.run, "down")
        assert down.rc == 0, down.dump()
        await _until(pilot, lambda: "does not answer" in app.status_text,
                     lambda: app.status_text)
        assert "no running stack for this project" in app.status_text
        await _until(pilot, lambda: panel.shown()[-1].strip() == "-- the stack has ended --",
                     lambda: repr(panel.shown()[-3:]))
        assert app.is_running
        await pilot.press("q")

    _in_view(project, runtime, steps)
    assert up.wait(10).rc == 0


def test_a_attaches_to_the_selected_tty_service_and_the_view_comes_back(
        cli: Cli, project: Project) -> None:
    """The view steps aside for the service's terminal (textual's suspend), keys reach the
    service, Ctrl-] brings the view back, and the stack runs on throughout."""
    up = _running(cli, project,
                  {"echo": {"command": 'echo ready; while read l; do echo "got $l"; done',
                            "tty": True}}, until=[r"^echo +\| ready$"])
    with _view_on_terminal(cli, project) as view:
        _attach(view, "echo")
        view.type(b"from the view\r")
        view.wait_for(rb"\r\ngot from the view\r\n", 10)
        up.wait_for(r"^echo +\| got from the view$")
        view.type(b"\x1d")
        view.wait_for(rb"attach echo: detached; the service keeps running", 10)
    _down(cli, up)


def test_a_in_a_view_that_cannot_step_aside_says_what_to_run(cli: Cli, project: Project,
                                                              runtime: Path) -> None:
    up = _running(cli, project)

    async def steps(app: StackApp, pilot: Pilot[str]) -> None:   # headless: no terminal
        await _select(pilot, app.query_one(InstanceTable), "web")
        await pilot.press("a")
        assert app.status_text == ("attach: this view cannot hand over its terminal; "
                                   "use `orchestra attach web`"), app.status_text
        assert app.is_running

    _in_view(project, runtime, steps)
    _down(cli, up)


def test_a_cell_that_grows_widens_its_column(cli: Cli, project: Project,
                                             runtime: Path) -> None:
    """Rows are updated in place; a value longer than its column's first one (an uptime past
    9s, then past a minute, `stopping` after `running`, a longer pid) must not be cut."""
    from dataclasses import replace

    from orchestra.tui.source import instances

    up = _running(cli, project)

    async def steps(app: StackApp, pilot: Pilot[str]) -> None:
        table = app.query_one(InstanceTable)
        await _until(pilot, lambda: "web" in table.names, lambda: repr(table.names))
        rows = await instances(app.socket, CpuMeter())
        grown = [replace(row, uptime=3725.0, state="stopping", pid=4194303,
                         cpu_percent=100.0, rss_bytes=2048 * 1048576)
                 if row.name == "web" else row for row in rows]
        table.show(grown)
        await pilot.pause()
        for key, text in zip(("state", "pid", "uptime", "cpu", "rss"),
                             ("stopping", "4194303", "1h02m", "100%", "2048.0M"),
                             strict=True):
            assert table.cells_of("web")[[k for _, k in COLUMNS].index(key)] == text
            width = table.columns[key].content_width   # type: ignore[index]
            assert width >= len(text), f"{key}: {text!r} in a column {width} wide"
        await pilot.press("q")

    _in_view(project, runtime, steps)
    _stopped_cleanly(cli, up)


def test_after_an_attach_the_status_line_says_why_it_ended(cli: Cli, project: Project) -> None:
    """The view comes back whatever ended the attach; its status line must not say the
    service keeps running when its run has just ended."""
    up = _running(cli, project,
                  {"once": {"command": 'echo ready; read l; echo "bye $l"', "tty": True},
                   "keep": {"command": "echo ready; sleep 60"}}, until=[r"^once +\| ready$"])
    with _view_on_terminal(cli, project) as view:   # the first row, once, is selected
        _attach(view, "once")
        view.type(b"now\r")
        view.wait_for(rb"bye now\r\n", 10)
        view.wait_for(rb"once ended; its terminal is closed", 10)
        after = view.wait_for(rb"attach once: once ended; its terminal is closed", 10)
        assert b"keeps running" not in view.seen[after.start():], view.text()[-2000:]
    _down(cli, up)


def test_the_filter_looks_at_the_text_not_the_time_before_it(cli: Cli, project: Project,
                                                             runtime: Path) -> None:
    """`/12` must find the lines that say 12, not every line logged at 12 o'clock."""
    up = _running(cli, project)

    async def steps(app: StackApp, pilot: Pilot[str]) -> None:
        panel = app.query_one(LogPanel)
        await _select(pilot, app.query_one(InstanceTable), "fruit")
        await _until(pilot, lambda: panel.instance == "fruit" and len(panel.shown()) > 3,
                     lambda: f"{panel.instance}: {panel.shown()[-5:]}")
        # a colon is in every time stamp and in no fruit line
        await _filter(pilot, panel, "slash", "colon", shows=":")
        assert panel.shown() == [], panel.shown()[-5:]
        await _filter(pilot, panel, "backspace", *"apple", shows="apple")
        assert panel.shown() and all("apple" in line for line in panel.shown())
        await pilot.press("escape", "q")

    _in_view(project, runtime, steps)
    _stopped_cleanly(cli, up)


def test_the_help_names_every_key_of_the_footer_and_attach(cli: Cli) -> None:
    """`a` is not in the footer (no room in 80 columns): --help is where a user finds it."""
    shown = cli.run("tui", "--help")
    assert shown.rc == 0, shown.dump()
    text = " ".join(shown.out.decode().split())
    for key in ("restart (r)", "stop (x)", "start (s)", "attach to its terminal (a",
                "graph (g)", "down (d", "(q)"):
        assert key in text, f"{key!r} not in: {text}"


def test_keys_typed_ahead_after_slash_go_to_the_filter_not_to_the_stack(
        cli: Cli, project: Project) -> None:
    """Over ssh, keys typed quickly arrive in one read: after `/`, `x` and `s` are letters of
    the filter, not a stop and a start of the selected instance."""
    up = _running(cli, project, {"web": {"command": "echo ready; sleep 60"}},
                  until=[r"^web +\| ready$"])
    pid = _pid_of(cli, "web")
    with _view_on_terminal(cli, project) as view:
        view.type(b"/xsr")                  # one write, as a typed-ahead burst arrives
        view.wait_for(rb"filter: xsr", 10)
        assert _pid_of(cli, "web") == pid, "a letter of the filter reached the stack"
        view.type(b"/health\r")            # a `/` typed in the filter is a letter of it
        view.wait_for(rb"filter: xsr/health", 10)
    result = _down(cli, up)
    assert "web: sending" not in result.text.split("orchestra down")[0], result.text


def _pid_of(cli: Cli, name: str) -> int | None:
    rows = json.loads(cli.run("ps", "--format", "json").text)
    return next((row["pid"] for row in rows if row["name"] == name), None)
