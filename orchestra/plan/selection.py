"""Which services run, and in what order.

The named services, a namespace, or the default set (enabled, and without `profiles` or with
an active one), plus everything they depend on, never a disabled one; ordered with graphlib,
dependencies first and otherwise in file order. Also the command line's formation
(`-c web=2,all=1`), read here because it names services too.
"""

# Annotations are evaluated here, not kept as strings: see orchestra/records.py.

import graphlib
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import NamedTuple

from orchestra.config.model import Service, Spec
from orchestra.errors import UsageError
from orchestra.records import own_kind_only

#: As the schema's `replicas` maximum: far beyond any machine's use, short of a typo's.
MAX_INSTANCES = 10000


class Selection(NamedTuple):
    """What the command line picked: services, a namespace, a formation, a base port."""

    services: tuple[str, ...] = ()
    namespace: str | None = None
    formation: Mapping[str, int] = MappingProxyType({})   # -c/-m: name or "all" → count
    base_port: int | None = None                                   # -p/--port
    with_dependencies: bool = True                                 # False: `run --no-deps`
    profiles: frozenset[str] = frozenset()                         # --profile


own_kind_only(Selection)


def selected_order(spec: Spec, selection: Selection) -> tuple[str, ...]:
    """The names of the services to run, dependencies first; raises UsageError for a name,
    profile, namespace or formation entry that does not fit the spec."""
    check_profiles(spec, selection.profiles)
    for name in selection.formation:
        if name != "all" and name not in spec.names():
            raise UsageError(f"formation: unknown process '{name}'"
                             f" (known: {', '.join(spec.names())}, or 'all')")
    wanted = _roots(spec, selection)
    chosen = _with_dependencies(spec, wanted) if selection.with_dependencies else set(wanted)
    return _topological(spec, chosen)


def check_profiles(spec: Spec, profiles: Iterable[str]) -> None:
    """A profile no service names is a typo (it would quietly start nothing more)."""
    known = sorted({p for s in spec.services for p in s.profiles})
    for profile in sorted(profiles):
        if profile not in known:
            import difflib  # only for the message

            hint = difflib.get_close_matches(profile, known, n=1)
            raise UsageError(f"unknown profile '{profile}'"
                             + (f" (did you mean '{hint[0]}'?)" if hint else "")
                             + (f" (known: {', '.join(known)})" if known and not hint
                                else "" if known else " (no service has `profiles:`)"))


def _active(service: Service, profiles: frozenset[str]) -> bool:
    """Started by default: enabled, and without profiles or with an active one."""
    return not service.disabled and (not service.profiles
                                     or not profiles.isdisjoint(service.profiles))


def _roots(spec: Spec, selection: Selection) -> list[str]:
    names = spec.names()
    for name in selection.services:
        if name not in names:
            import difflib  # only for the message

            hint = difflib.get_close_matches(name, names, n=1)
            raise UsageError(f"unknown service '{name}'"
                             + (f" (did you mean '{hint[0]}'?)" if hint else ""))
    if selection.services:
        return list(selection.services)
    if selection.namespace is not None:
        roots = [s.name for s in spec.services
                 if s.namespace == selection.namespace and _active(s, selection.profiles)]
        if not roots:
            raise UsageError(f"no enabled service in namespace '{selection.namespace}'")
        return roots
    roots = [s.name for s in spec.services if _active(s, selection.profiles)]
    if not roots and any(s.profiles and not s.disabled for s in spec.services):
        raise UsageError("nothing to start: every enabled service has `profiles:` and none "
                         "of them is active (use --profile NAME, or name the services)")
    return roots


def _with_dependencies(spec: Spec, roots: Iterable[str]) -> set[str]:
    services = {service.name: service for service in spec.services}
    chosen: set[str] = set()
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name in chosen:
            continue
        chosen.add(name)
        for dep in services[name].depends_on:
            if services[dep.service].disabled:
                raise UsageError(f"service '{name}' depends on '{dep.service}', "
                                 "which is disabled")
            stack.append(dep.service)
    return chosen


def _topological(spec: Spec, chosen: set[str]) -> tuple[str, ...]:
    """Dependencies first; among independent services, file order (stable, predictable)."""
    services = {service.name: service for service in spec.services}
    sorter = graphlib.TopologicalSorter(
        {name: [d.service for d in services[name].depends_on if d.service in chosen]
         for name in chosen})
    sorter.prepare()
    position = {name: i for i, name in enumerate(spec.names())}
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=position.__getitem__)
        order.extend(ready)
        sorter.done(*ready)
    return tuple(order)


def parse_formation(text: str) -> dict[str, int]:
    """`web=2,worker=0,all=1` (honcho/foreman -c/-m)."""
    formation: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, count = part.partition("=")
        if not sep or not name.strip() or not (count.isascii() and count.strip().isdigit()):
            raise UsageError(f"invalid formation '{part}' (expected NAME=COUNT, e.g. web=2)")
        if int(count) > MAX_INSTANCES:
            raise UsageError(f"invalid formation '{part}': at most {MAX_INSTANCES} instances")
        formation[name.strip()] = int(count)
    return formation
