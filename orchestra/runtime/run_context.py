"""What every runner of a stack shares: `RunContext`, made by the orchestrator."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from orchestra.runtime.backends import ProcessBackend, for_loop

if TYPE_CHECKING:
    from orchestra.output.mux import Multiplexer
    from orchestra.plan import Instance
    from orchestra.runtime.lifeline import Lifeline
    from orchestra.runtime.service import ServiceRunner


class RunContext:
    """What every runner shares; owned by the orchestrator, used only on the event loop.

    A plain class, not a dataclass: one is made a run, never compared or printed, and a
    dataclass costs every start ~0.4 ms to create (see runtime/events.py)."""

    __slots__ = ("environ", "lifeline", "mux", "notify_path", "on_final", "processes",
                 "stop_timeout")

    def __init__(self, mux: Multiplexer, lifeline: Lifeline, environ: Mapping[str, str],
                 stop_timeout: Callable[[Instance | None], float],
                 on_final: Callable[[ServiceRunner], None], notify_path: Callable[[str], str],
                 processes: ProcessBackend | None = None) -> None:
        self.mux = mux
        self.lifeline = lifeline
        self.environ = environ
        self.stop_timeout = stop_timeout
        self.on_final = on_final
        self.notify_path = notify_path
        # made on the running loop when not given
        self.processes = processes if processes is not None else for_loop()
