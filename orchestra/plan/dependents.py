"""Who depends on whom in a plan, for the actions that go against the start order: the
waves in which services stop, and the services an explicit restart takes along."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchestra.plan import Plan


def dependents(plan: Plan) -> dict[str, set[str]]:
    """service name → the selected services that depend on it, directly or not.

    Transitive, so that `web → migrate → db` stops web before db even after the one-shot
    migrate has completed.
    """
    result: dict[str, set[str]] = {name: set() for name in plan.order}
    services = {service.name: service for service in plan.spec.services}
    for name in plan.order:
        for dep in services[name].depends_on:
            result.setdefault(dep.service, set()).add(name)
    for name in reversed(plan.order):  # dependents first: their sets are complete when read
        for dependent in list(result[name]):
            result[name] |= result.get(dependent, set())
    return result


def stop_waves(plan: Plan, running: Sequence[str]) -> list[list[str]]:
    """Services grouped so that each wave has no running dependent left (reverse order)."""
    remaining = set(running)
    by_service = dependents(plan)
    waves: list[list[str]] = []
    while remaining:
        wave = [n for n in plan.order if n in remaining
                and not (by_service.get(n, set()) & remaining)]
        if not wave:  # impossible for an acyclic plan; stop the rest together rather than hang
            wave = [n for n in plan.order if n in remaining]
        waves.append(wave)
        remaining -= set(wave)
    return waves


def restart_with_dependents(plan: Plan, names: Sequence[str]) -> list[str]:
    """`names`, then every service of the run that depends on one of them with
    `restart: true`, directly or through another such service (compose's rule for an
    explicit restart), in start order after the named ones."""
    restarted_with: dict[str, set[str]] = {}
    for instance in plan.instances:
        for dependency in instance.service.depends_on:
            if dependency.restart:
                restarted_with.setdefault(dependency.service, set()).add(instance.service.name)
    found = set(names)
    todo = list(names)
    while todo:
        for dependent in restarted_with.get(todo.pop(), ()):
            if dependent not in found:
                found.add(dependent)
                todo.append(dependent)
    return [*names, *(s for s in plan.order if s in found and s not in names)]
