"""`orchestra graph`: the dependency graph as Mermaid or Graphviz dot, conditions on the edges.

Edges point from a dependency to its dependent — the order things start in.
"""

from __future__ import annotations

import json

from orchestra.config.model import Spec


def _edges(spec: Spec) -> list[tuple[str, str, str]]:
    return [(dep.service, service.name, dep.condition.value)
            for service in spec.services for dep in service.depends_on]


def render_mermaid(spec: Spec) -> str:
    lines = ["flowchart TD"]
    ids = {name: f"s{i}" for i, name in enumerate(spec.names())}
    for service in spec.services:
        label = service.name + (" (disabled)" if service.disabled else "")
        lines.append(f'    {ids[service.name]}["{label}"]')
    for source, target, condition in _edges(spec):
        lines.append(f"    {ids[source]} -->|{condition}| {ids[target]}")
    return "\n".join(lines) + "\n"


def render_dot(spec: Spec) -> str:
    lines = ["digraph orchestra {", "    rankdir=LR;"]
    for service in spec.services:
        style = ", style=dashed" if service.disabled else ""
        lines.append(f"    {json.dumps(service.name)} [shape=box{style}];")
    for source, target, condition in _edges(spec):
        lines.append(f"    {json.dumps(source)} -> {json.dumps(target)} "
                     f"[label={json.dumps(condition)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


RENDERERS = {"mermaid": render_mermaid, "dot": render_dot}
