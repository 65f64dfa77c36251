"""From the selected services to instances: replicas, `PORT` and each child's environment.

`replicas` and the formation's counts become instances named `web.1`, `web.2` (foreman's
naming; a YAML service of one keeps its own name). `PORT` follows foreman's rule (a base port,
100 apart per process type) unless the service has `port:` or ports picked for `port: auto`.
Each instance's env says who it is (`ORCHESTRA_SERVICE`, `PS`, `PWD`; for a Procfile, also
honcho's `HONCHO_PROCESS_NAME`) and where its dependencies listen (`DB_HOST`, `DB_PORT`:
`orchestra/discovery.py`).
"""

# Annotations are evaluated here, not kept as strings: see orchestra/records.py.

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from orchestra.config.model import PORT_STEP, Service, SourceKind, Spec, frozen_env
from orchestra.errors import UsageError
from orchestra.records import own_kind_only

DEFAULT_BASE_PORT = 5000


class Instance(NamedTuple):
    """One process to run: a service, or one replica of it."""

    name: str                       # "web" or "web.2"
    service: Service
    number: int                     # 1-based replica number
    port: int | None
    env: Mapping[str, str] = frozen_env()   # over orchestra's environment (read-only)

    @property
    def service_name(self) -> str:
        return self.service.name


own_kind_only(Instance)


def make_instances(spec: Spec, order: Sequence[str], formation: Mapping[str, int],
                   base: int | None) -> tuple[Instance, ...]:
    """Every instance of the services in `order`, in that order; raises UsageError for a
    count the config cannot serve or a port out of range."""
    instances: list[Instance] = []
    services = {service.name: service for service in spec.services}   # one pass, not one a name
    positions = {service.name: index for index, service in enumerate(spec.services)}
    for name in order:
        service = services[name]
        count = _count(service, formation)
        if service.varies_by_instance and count > service.replicas:
            raise UsageError(f"{name}: {count} instances asked for, but its settings use "
                             "${PORT} or ${PS}, resolved when orchestra.yaml is read for its "
                             f"{service.replicas} (`replicas`); set `replicas: {count}`")
        if service.auto_ports and count > len(service.auto_ports):
            raise UsageError(f"{name}: {count} instances asked for, but `port: auto` picked "
                             f"ports for its {len(service.auto_ports)} (`replicas`); set "
                             f"`replicas: {count}`")
        type_index = positions[name]
        for number in range(1, count + 1):
            instances.append(_instance(spec, service, number, count, type_index, base))
    return _with_addresses(spec, instances)


def base_port(spec: Spec, explicit: int | None, environ: Mapping[str, str]) -> int | None:
    """foreman's rule: `-p`, else `$PORT`, else 5000 — for Procfiles; YAML only with `-p`."""
    if explicit is not None:
        return explicit
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


def _count(service: Service, formation: Mapping[str, int]) -> int:
    if service.name in formation:
        return formation[service.name]
    if "all" in formation:
        return formation["all"]
    return service.replicas


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
    if procfile:   # honcho's name for it, which apps read (docs/MIGRATING.md)
        env["HONCHO_PROCESS_NAME"] = env["PS"]
    if port is not None:
        if not 1 <= port <= 65535:
            raise UsageError(f"{name}: PORT {port} is out of range 1-65535 "
                             "(check the base port, `port:` and the number of instances)")
        env["PORT"] = str(port)
    return Instance(name, service, number, port, frozen_env(env))


def _with_addresses(spec: Spec, instances: list[Instance]) -> tuple[Instance, ...]:
    """Each instance's env with `DB_HOST`/`DB_PORT` (and `DB_2_PORT`...) for every service it
    depends on that this plan runs. Under the service's own env: a `DB_HOST` the user wrote
    wins; over orchestra's environment, so a stale exported `DB_PORT` does not."""
    if not any(i.port is not None for i in instances):
        return tuple(instances)   # no address to give anyone
    from orchestra.discovery import discovery_env

    services = {service.name: service for service in spec.services}
    by_service: dict[str, list[Instance]] = {}
    for instance in instances:
        by_service.setdefault(instance.service.name, []).append(instance)
    result = []
    for instance in instances:
        dependencies = [i for dep in services[instance.service.name].depends_on
                        for i in by_service.get(dep.service, ())]
        addresses = discovery_env(dependencies)
        if addresses:
            instance = instance._replace(
                env=frozen_env({**addresses, **instance.env}))
        result.append(instance)
    return tuple(result)
