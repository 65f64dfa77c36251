"""Semantic checks on a built model: what the schema cannot see (DESIGN §7, `config/checks`).

Every problem is collected: unknown and self dependencies, cycles reported as their path,
`condition: ready` without a readiness check, and working directories that do not exist.
"""

from __future__ import annotations

import graphlib
import os
from collections.abc import Collection

from orchestra.config.model import Condition, RestartMode, Service, SourceKind, Spec
from orchestra.errors import Location, Problem

#: The pseudo-service orchestra's own lines come from (`system | web: started pid=…`). A
#: Procfile's instances are `system.1`, so only a YAML service can take the name itself.
RESERVED = "system"


def check_spec(spec: Spec, declared: Collection[str] = ()) -> list[Problem]:
    """Problems across services. `declared`: every service name in the file, including those
    left out of `spec` because an earlier pass already reported them (they are not unknown).
    """
    problems: list[Problem] = []
    built = set(spec.names())
    names = built | set(declared)
    for service in spec.services:
        problems.extend(_dependency_problems(service, names, built, spec))
        if spec.kind is SourceKind.PROCFILE:   # YAML's are checked where they are built
            problems.extend(_directory_problems(service))
        if service.name == RESERVED and spec.kind is SourceKind.YAML:
            problems.append(Problem(service.location, f"services.{RESERVED}",
                                    f"the name '{RESERVED}' is reserved for orchestra's own "
                                    "messages; choose another"))
    problems.extend(_cycle_problems(spec, built))
    return problems


def _field(service: Service, suffix: str) -> str:
    return f"services.{service.name}.{suffix}"


def _dependency_problems(service: Service, names: set[str], built: set[str],
                         spec: Spec) -> list[Problem]:
    problems = []
    for dep in service.depends_on:
        where = dep.location or service.location
        if dep.service == service.name:
            problems.append(Problem(where, _field(service, "depends_on"),
                                    f"service '{service.name}' depends on itself"))
        elif dep.service not in names:
            problems.append(unknown_dependency(service.name, dep.service, names, where))
        elif (dep.service in built and spec.service(dep.service).disabled
              and not service.disabled):
            problems.append(Problem(where, _field(service, "depends_on"),
                                    f"'{dep.service}' is disabled, so '{service.name}' could "
                                    "never start (enable it, or disable this service too)"))
        elif (dep.condition is Condition.COMPLETED_SUCCESSFULLY and dep.service in built
              and spec.service(dep.service).restart.mode is RestartMode.ALWAYS):
            problems.append(Problem(
                dep.condition_location or where,
                _field(service, f"depends_on.{dep.service}.condition"),
                f"condition 'completed_successfully' can never be met: '{dep.service}' has "
                "restart policy 'always', so it is started again whenever it completes"))
        elif (dep.condition is Condition.READY and dep.service in built
              and spec.service(dep.service).readiness is None):
            problems.append(Problem(
                dep.condition_location or where,
                _field(service, f"depends_on.{dep.service}.condition"),
                f"condition 'ready' needs a readiness check on '{dep.service}' "
                "(add `readiness:` to it, or use condition 'started')"))
    return problems


def unknown_dependency(name: str, dependency: str, names: Collection[str],
                       where: Location) -> Problem:
    """`depends_on` names a service the file does not declare (with a did-you-mean)."""
    others = sorted(set(names) - {name})
    import difflib  # only for the message

    hint = difflib.get_close_matches(dependency, others, n=1)
    suffix = f" (did you mean '{hint[0]}'?)" if hint else ""
    return Problem(where, f"services.{name}.depends_on", f"unknown service '{dependency}'{suffix}")


def _directory_problems(service: Service) -> list[Problem]:
    for path, field in ((service.dir, "dir"), (service.run_dir, "entrypoint")):
        if not os.path.isdir(path):
            what = f"'{path}' is not a directory" if os.path.exists(path) else \
                f"directory '{path}' does not exist"
            return [Problem(service.location, _field(service, field), what)]
    return []


def _cycle_problems(spec: Spec, names: set[str]) -> list[Problem]:
    """A cycle among known services; unknown and self dependencies are reported on their own,
    and leaving them out here lets a cycle elsewhere in the same file be reported too."""
    graph = {s.name: [d.service for d in s.depends_on if d.service in names - {s.name}]
             for s in spec.services}
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        cycle: list[str] = list(exc.args[1])
        # graphlib gives the cycle as [a, b, ..., a] in "depends on" order reversed; show it as
        # "x depends on y": web -> migrate -> db -> web
        path = list(reversed(cycle))[:-1]
        # Start at the service written first, so the message does not depend on graph order.
        start = min(range(len(path)), key=lambda i: spec.names().index(path[i]))
        path = [*path[start:], *path[:start], path[start]]
        first = spec.service(path[0])
        link = next(d.location for d in first.depends_on if d.service == path[1])
        return [Problem(link or first.location, _field(first, "depends_on"),
                        "dependency cycle: " + " -> ".join(path))]
    return []
