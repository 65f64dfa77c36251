"""The view's pop-ups: the confirmation before `down`, and the dependency graph."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class ConfirmDown(ModalScreen[bool]):
    """Stopping the whole stack is the one thing the view does that quitting never does:
    it is asked for, and confirmed."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("y", "answer(True)", "Yes, stop it"),
                Binding("n,escape", "answer(False)", "No")]
    DEFAULT_CSS = """
    ConfirmDown { align: center middle; }
    ConfirmDown > Vertical { width: 60; height: auto; border: round $accent; padding: 1 2; }
    """

    def __init__(self, project: str) -> None:
        super().__init__()
        self.project = project

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Stop every service of {self.project} (orchestra down)?\n\n"
                         "y: stop the stack    n / Esc: keep it running")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class GraphScreen(ModalScreen[None]):
    """Each service and what it depends on, with the condition."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("g,escape,q", "close", "Close")]
    DEFAULT_CSS = """
    GraphScreen { align: center middle; }
    GraphScreen > VerticalScroll { width: 90%; height: 80%; border: round $accent;
                                   padding: 0 1; }
    """

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        scroll = VerticalScroll()
        scroll.border_title = "dependencies (g / Esc to close)"
        with scroll:
            yield Static(self.text, markup=False, id="graph")

    def action_close(self) -> None:
        self.dismiss(None)
