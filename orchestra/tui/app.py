"""The live view of a running stack: keys, layout, and the workers that keep it current.

Three kinds of work run beside the view, each a coroutine on textual's loop: the `ps` poll
(once a second), the followed log of the selected instance (replaced when the selection
changes), and the commands the keys send. None of them blocks the view, and quitting cancels
them all and closes their connections: the stack itself is never told anything by a quit.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Input, Static

from orchestra.errors import printable
from orchestra.tui import source
from orchestra.tui.screens import ConfirmDown, GraphScreen
from orchestra.tui.widgets import InstanceTable, LogPanel

#: Seconds between two `ps` requests.
POLL_INTERVAL = 1.0
#: Lines of the selected instance's past shown when it is selected.
TAIL = 500

#: What `StackApp.run()` returns when the user stopped the stack with `d`.
STOPPED = "stopped"


class StackApp(App[str]):
    """`orchestra tui`: instances, the selected one's log, the keys that control them."""

    TITLE = "orchestra"
    #: Its key would take the footer's last place, which `d` needs in 80 columns.
    ENABLE_COMMAND_PALETTE = False
    CSS = """
    InstanceTable { height: auto; max-height: 45%; border: round $primary; }
    LogPanel { height: 1fr; border: round $primary; }
    #filter { height: 1; border: none; padding: 0 1; }
    #status { height: 1; padding: 0 1; background: $boost; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit_view", "Quit"),
        Binding("ctrl+c", "quit_view", "Quit", show=False, priority=True),
        Binding("r", "control('restart')", "Restart"),
        Binding("x", "control('stop')", "Stop"),
        Binding("s", "control('start')", "Start"),
        # priority: textual routes each key to the focused widget as it reads it, so a key
        # bound there would act only after the keys typed right after it had gone to the
        # table (`/xs` in one read over ssh: a stop and a start, not a filter)
        Binding("slash", "filter", "Filter", priority=True),
        Binding("f", "follow", "Follow"),
        Binding("g", "graph", "Graph"),
        Binding("a", "attach", "Attach", show=False),   # the footer has no room in 80 columns
        Binding("d", "down", "Down"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def __init__(self, socket: str, project: str, graph: str) -> None:
        super().__init__()
        self.socket = socket
        self.project = project
        self.graph = graph
        self.meter = source.CpuMeter()
        self.reachable = True
        self.status_text = ""

    def compose(self) -> ComposeResult:
        table = InstanceTable(id="instances")
        table.border_title = f"orchestra: {printable(self.project)}"
        yield table
        yield LogPanel(id="log")
        yield Input(placeholder="/ to filter the log", id="filter")
        yield Static("", id="status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(InstanceTable).focus()
        self.status("q quits, the stack runs on; d stops it; a attaches to a tty service")
        self.run_worker(self._poll(), group="ps", exit_on_error=False)

    # ------------------------------------------------------------------ what the stack says

    async def _poll(self) -> None:
        table = self.query_one(InstanceTable)
        while True:
            try:
                rows = await source.instances(self.socket, self.meter)
            except source.UNREACHABLE as exc:
                self.reachable = False
                self.status(f"the stack does not answer: {exc} (q to quit)")
            else:
                if not self.reachable:
                    self.reachable = True
                    self.status("")
                table.show(rows)
                self._follow_selected()
            await asyncio.sleep(POLL_INTERVAL)

    def _follow_selected(self) -> None:
        name = self.query_one(InstanceTable).selected
        panel = self.query_one(LogPanel)
        if name is not None and name != panel.instance:
            panel.start(name)
            self.run_worker(self._follow(name), group="log", exclusive=True,
                            exit_on_error=False)

    async def _follow(self, name: str) -> None:
        panel = self.query_one(LogPanel)
        try:
            async for line in source.follow(self.socket, name, TAIL):
                panel.add(line)
        except source.UNREACHABLE as exc:
            panel.note(f"log unavailable: {exc}")
        else:
            panel.note("the stack has ended")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._follow_selected()

    def status(self, text: str) -> None:
        """The status line: the stack's last answer to a key, or why it gives none."""
        self.status_text = printable(text)
        self.query_one("#status", Static).update(self.status_text)

    # ------------------------------------------------------------------ keys

    def action_quit_view(self) -> None:
        self.exit()

    def action_control(self, command: str) -> None:
        name = self.query_one(InstanceTable).selected
        if name is None:
            self.status(f"{command}: no instance selected")
            return
        self.status(f"{command} {name}...")
        self.run_worker(self._command(command, name), group="command", exit_on_error=False)

    async def _command(self, command: str, name: str) -> None:
        try:
            result = await source.ask(self.socket, {"command": command, "services": [name]})
        except source.UNREACHABLE as exc:
            self.status(f"{command} {name}: {exc}")
            return
        done = ", ".join(map(str, result)) if isinstance(result, list) else str(result)
        self.status(f"{command} {name}: done ({done})")

    def action_attach(self) -> None:
        """The selected instance's terminal (`tty: true`), as `orchestra attach` gives it: the
        view steps aside (textual's suspend) until Ctrl-] or the end of the run, then comes
        back as it was."""
        from textual.app import SuspendNotSupported

        from orchestra.control.attach_client import attach_until_end
        from orchestra.errors import OrchestraError

        name = self.query_one(InstanceTable).selected
        if name is None:
            self.status("attach: no instance selected")
            return
        outcome = ""
        try:
            with self.suspend():
                try:   # inside: an exception through suspend() would leave the view suspended
                    outcome = attach_until_end(self.socket, name)[1]
                except OrchestraError as exc:
                    outcome = str(exc)
        except SuspendNotSupported:
            self.status(f"attach: this view cannot hand over its terminal; use "
                        f"`orchestra attach {name}`")
            return
        # why it ended: detached (the service runs on), its run ended, the stack stopped
        self.status(f"attach {name}: {outcome}")

    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        if field.has_focus:   # a `/` in the filter itself (a path, a URL)
            field.insert_text_at_cursor("/")
            return
        # at once (focus() would wait for the keys already read): they are the filter's
        self.set_focus(field)

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one(LogPanel).set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(InstanceTable).focus()

    def action_clear_filter(self) -> None:
        self.query_one("#filter", Input).value = ""
        self.query_one(InstanceTable).focus()

    def action_follow(self) -> None:
        following = self.query_one(LogPanel).toggle_follow()
        self.status("following the log" if following else "log paused (f to follow)")

    def action_graph(self) -> None:
        self.push_screen(GraphScreen(self.graph))

    def action_down(self) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self.status("stopping the stack (orchestra down)...")
                self.run_worker(self._down(), group="command", exit_on_error=False)
            else:
                self.status("the stack keeps running")

        self.push_screen(ConfirmDown(self.project), answered)

    async def _down(self) -> None:
        try:
            await source.ask(self.socket, {"command": "down"})
        except source.UNREACHABLE as exc:
            self.status(f"down: {exc}")
            return
        self.exit(STOPPED)
