"""From a model to what will run: selection, dependency order, replicas, ports and env.

The plan is pure data. It decides which services run (the named ones, a namespace, or the
default set — enabled, and without `profiles` or with an active one — plus everything they
depend on; never a disabled one), expands `replicas`/formation counts into instances named
`web.1`, `web.2` (foreman's naming), assigns `PORT` by foreman's rule (or the ports picked
for `port: auto`), tells each service where its dependencies listen (`DB_HOST`, `DB_PORT`:
`orchestra/discovery.py`), and orders everything with graphlib so the runtime can start and
stop in dependency order.
"""

from __future__ import annotations

import dataclasses
import graphlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from orchestra.config.model import PORT_STEP, Service, SourceKind, Spec, frozen_env
from orchestra.errors import UsageError

DEFAULT_BASE_PORT = 5000


@dataclass(frozen=True, slots=True)
class Instance:
    """One process to run: a service, or one replica of it."""

    name: str                       # "web" or "web.2"
    service: Service
    number: int                     # 1-based replica number
    port: int | None
    env: Mapping[str, str] = field(default_factory=frozen_env)  # over orchestra's environment

    @property
    def service_name(self) -> str:
        return self.service.name


@dataclass(frozen=True, slots=True)
class Plan:
    """What `up` will start: the selected services in order and their instances."""

    spec: Spec
    order: tuple[str, ...]                     # selected service names, dependencies first
    instances: tuple[Instance, ...]            # in start order

    def dependents(self) -> dict[str, set[str]]:
        """service name → the selected services that depend on it, directly or not.

        Transitive, so that `web → migrate → db` stops web before db even after the one-shot
        migrate has completed.
        """
        result: dict[str, set[str]] = {name: set() for name in self.order}
        for name in self.order:
            for dep in self.spec.service(name).depends_on:
                result.setdefault(dep.service, set()).add(name)
        for name in reversed(self.order):  # dependents first: their sets are complete when read
            for dependent in list(result[name]):
                result[name] |= result.get(dependent, set())
        return result


@dataclass(frozen=True, slots=True)
class Selection:
    """What the command line picked: services, a namespace, a formation, a base port."""

    services: tuple[str, ...] = ()
    namespace: str | None = None
    formation: Mapping[str, int] = field(default_factory=dict)   # -c/-m: name or "all" → count
    base_port: int | None = None                                   # -p/--port
    with_dependencies: bool = True                                 # False: `run --no-deps`
    profiles: frozenset[str] = frozenset()                         # --profile


def make_plan(spec: Spec, selection: Selection, environ: Mapping[str, str]) -> Plan:
    check_profiles(spec, selection.profiles)
    for name in selection.formation:
        if name != "all" and name not in spec.names():
            raise UsageError(f"formation: unknown process '{name}'"
                             f" (known: {', '.join(spec.names())}, or 'all')")
    wanted = _roots(spec, selection)
    chosen = _with_dependencies(spec, wanted) if selection.with_dependencies else set(wanted)
    order = _topological(spec, chosen)
    base = _base_port(spec, selection, environ)
    instances: list[Instance] = []
    for name in order:
        service = spec.service(name)
        count = _count(service, selection.formation)
        if service.varies_by_instance and count > service.replicas:
            raise UsageError(f"{name}: {count} instances asked for, but its settings use "
                             "${PORT} or ${PS}, resolved when orchestra.yaml is read for its "
                             f"{service.replicas} (`replicas`); set `replicas: {count}`")
        if service.auto_ports and count > len(service.auto_ports):
            raise UsageError(f"{name}: {count} instances asked for, but `port: auto` picked "
                             f"ports for its {len(service.auto_ports)} (`replicas`); set "
                             f"`replicas: {count}`")
        type_index = spec.names().index(name)
        for number in range(1, count + 1):
            instances.append(_instance(spec, service, number, count, type_index, base))
    return Plan(spec, order, _with_addresses(spec, instances))


def _with_addresses(spec: Spec, instances: list[Instance]) -> tuple[Instance, ...]:
    """Each instance's env with `DB_HOST`/`DB_PORT` (and `DB_2_PORT`...) for every service it
    depends on that this plan runs. Under the service's own env: a `DB_HOST` the user wrote
    wins; over orchestra's environment, so a stale exported `DB_PORT` does not."""
    if not any(i.port is not None for i in instances):
        return tuple(instances)   # no address to give anyone
    from orchestra.discovery import discovery_env

    by_service: dict[str, list[Instance]] = {}
    for instance in instances:
        by_service.setdefault(instance.service.name, []).append(instance)
    result = []
    for instance in instances:
        dependencies = [i for dep in spec.service(instance.service.name).depends_on
                        for i in by_service.get(dep.service, ())]
        addresses = discovery_env(dependencies)
        if addresses:
            instance = dataclasses.replace(
                instance, env=frozen_env({**addresses, **instance.env}))
        result.append(instance)
    return tuple(result)


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
    chosen: set[str] = set()
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name in chosen:
            continue
        chosen.add(name)
        for dep in spec.service(name).depends_on:
            if spec.service(dep.service).disabled:
                raise UsageError(f"service '{name}' depends on '{dep.service}', "
                                 "which is disabled")
            stack.append(dep.service)
    return chosen


def _topological(spec: Spec, chosen: set[str]) -> tuple[str, ...]:
    """Dependencies first; among independent services, file order (stable, predictable)."""
    sorter = graphlib.TopologicalSorter(
        {name: [d.service for d in spec.service(name).depends_on if d.service in chosen]
         for name in chosen})
    sorter.prepare()
    position = {name: i for i, name in enumerate(spec.names())}
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=position.__getitem__)
        order.extend(ready)
        sorter.done(*ready)
    return tuple(order)


def _count(service: Service, formation: Mapping[str, int]) -> int:
    if service.name in formation:
        return formation[service.name]
    if "all" in formation:
        return formation["all"]
    return service.replicas


def _base_port(spec: Spec, selection: Selection, environ: Mapping[str, str]) -> int | None:
    """foreman's rule: `-p`, else `$PORT`, else 5000 — for Procfiles; YAML only with `-p`."""
    if selection.base_port is not None:
        return selection.base_port
    if spec.kind is not SourceKind.PROCFILE:
        return None
    # .env's PORT (in spec.env) over orchestra's own, as the env layering has it
    source = "the .env files" if spec.env.get("PORT") else "the environment"
    text = (spec.env.get("PORT") or environ.get("PORT", "")).strip()
    if not text:
        return DEFAULT_BASE_PORT
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise UsageError(f"PORT={text!r} from {source} is not a port (1-65535); it is the "
                         "base port of the Procfile's processes (or use -p/--port)")
    return int(text)


def _instance(spec: Spec, service: Service, number: int, count: int, type_index: int,
              base: int | None) -> Instance:
    procfile = spec.kind is SourceKind.PROCFILE
    name = f"{service.name}.{number}" if procfile or count > 1 else service.name
    if number > 1 and service.instances:
        service = service.instances[number - 2]   # its own ${PORT} and ${PS}
    if service.auto_ports:
        port: int | None = service.auto_ports[number - 1]
    elif service.port is not None:
        port = service.port + number - 1
    elif base is not None:
        port = base + PORT_STEP * type_index + number - 1
    else:
        port = None
    env = dict(service.env)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env["ORCHESTRA_SERVICE"] = service.name
    env["PWD"] = str(service.run_dir)   # where it runs, as a shell's `cd` would say
    env["PS"] = f"{service.name}.{number}"
    if port is not None:
        if not 1 <= port <= 65535:
            raise UsageError(f"{name}: PORT {port} is out of range 1-65535 "
                             "(check the base port, `port:` and the number of instances)")
        env["PORT"] = str(port)
    return Instance(name, service, number, port, frozen_env(env))


#: As the schema's `replicas` maximum: far beyond any machine's use, short of a typo's.
MAX_INSTANCES = 10000


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


def stop_waves(plan: Plan, running: Sequence[str]) -> list[list[str]]:
    """Services grouped so that each wave has no running dependent left (reverse order)."""
    remaining = set(running)
    dependents = plan.dependents()
    waves: list[list[str]] = []
    while remaining:
        wave = [n for n in plan.order if n in remaining
                and not (dependents.get(n, set()) & remaining)]
        if not wave:  # impossible for an acyclic plan; stop the rest together rather than hang
            wave = [n for n in plan.order if n in remaining]
        waves.append(wave)
        remaining -= set(wave)
    return waves


def restart_with_dependents(plan: Plan, names: Sequence[str]) -> list[str]:
    """`names`, then every service of the run that depends on one of them with
    `restart: true`, directly or through another such service (compose's rule for an
    explicit restart), in start order after the named ones."""
    dependents: dict[str, set[str]] = {}
    for instance in plan.instances:
        for dependency in instance.service.depends_on:
            if dependency.restart:
                dependents.setdefault(dependency.service, set()).add(instance.service.name)
    found = set(names)
    todo = list(names)
    while todo:
        for dependent in dependents.get(todo.pop(), ()):
            if dependent not in found:
                found.add(dependent)
                todo.append(dependent)
    return [*names, *(s for s in plan.order if s in found and s not in names)]
