"""The dependency graph as text for the view: each service and what it waits for.

Read from the config the running stack was started with (its path comes from the stack's
`info`), as `orchestra graph` reads it; a plain list rather than a drawing, so that it fits
80 columns and reads the same without colour.
"""

from __future__ import annotations

from pathlib import Path

from orchestra.config.model import Spec
from orchestra.errors import OrchestraError


def graph_text(spec: Spec) -> str:
    """`web  <- db (ready), migrate (completed_successfully)`, one service a line, in the
    config's order; services with no dependency say so."""
    width = max((len(name) for name in spec.names()), default=0)
    lines = []
    for service in spec.services:
        name = service.name.ljust(width)
        needs = ", ".join(f"{dep.service} ({dep.condition.value})"
                          for dep in service.depends_on)
        disabled = " [disabled]" if service.disabled else ""
        lines.append(f"{name}  <- {needs}{disabled}" if needs
                     else f"{name}  (no dependencies){disabled}")
    return "\n".join(lines) + "\n"


def graph_of(config: Path) -> str:
    """The graph of the config at `config`, or one line saying why it cannot be read (the
    stack may have been started with env files or variables this terminal lacks)."""
    from orchestra.config.loader import load_spec
    from orchestra.config.project import LoadOptions

    try:
        return graph_text(load_spec(LoadOptions(file=str(config), cwd=str(config.parent))))
    except (OrchestraError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"the dependency graph cannot be read: {first}\n"
