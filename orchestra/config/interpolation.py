"""The interpolation pass: `${VAR}` in every string of orchestra.yaml, before the schema.

Values come from orchestra's environment, the env files and what orchestra sets for each
instance (`PORT`, `PS`, `ORCHESTRA_SERVICE`) and every service's port
(`${services.db.port}`), so `stop_timeout: ${T:-5s}` is checked by the
schema as the duration it becomes, and each replica gets its own `${PORT}`.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence

from orchestra.config.collector import Collector
from orchestra.config.interpolate import InterpolationError, interpolate
from orchestra.config.model import DISCOVERY_HOST, PORT_STEP
from orchestra.config.source import PathKey


def interpolate_tree(data: object, path: PathKey, lookup: Mapping[str, str],
                     problems: Collector) -> object:
    """Interpolate every string below `data`; `x-*` keys are left alone (anchors only)."""
    if isinstance(data, str):
        try:
            return interpolate(data, lookup)
        except InterpolationError as exc:
            problems.add(path, exc.message)
            return data
    if isinstance(data, list):
        return [interpolate_tree(v, (*path, i), lookup, problems) for i, v in enumerate(data)]
    if isinstance(data, dict):
        return {k: v if k.startswith("x-") else interpolate_tree(v, (*path, k), lookup, problems)
                for k, v in data.items()}
    return data


def interpolate_document(data: dict[str, object], file_values: Mapping[str, str],
                         environ: Mapping[str, str], problems: Collector, *,
                         base_port: int | None = None,
                         auto_ports: Mapping[str, Sequence[int]] | None = None,
                         ) -> tuple[dict[str, object], dict[str, list[object]]]:
    """`${VAR}` in every string of the project `env` and of each service, before the schema
    sees them, so `stop_timeout: ${T:-5s}` is checked as the duration it becomes. Each
    service sees its own `PORT`, `ORCHESTRA_SERVICE` and `PS`, and every string sees
    `${services.NAME.port}` and `${services.NAME.host}` of every service with a port.

    Returns the document as instance 1 sees it, and, for a service with replicas whose
    settings use `${PORT}` or `${PS}`, its data as instances 2, 3, … see it. `base_port`
    (`-p`) gives `PORT` to services without `port:` by the foreman rule, as the plan does;
    `auto_ports`: the ports picked for each instance of the services with `port: auto`.
    """
    auto_ports = auto_ports or {}
    lookup = {**environ, **file_values}
    services = data.get("services")
    first_ports: dict[str, int | None] = {}
    if isinstance(services, dict):
        for index, (name, raw) in enumerate(services.items()):
            base = None if base_port is None else base_port + PORT_STEP * index
            first_ports[name] = _first_port(raw, lookup, base, auto_ports.get(name))
            lookup[f"services.{name}.host"] = DISCOVERY_HOST
            if first_ports[name] is not None:
                lookup[f"services.{name}.port"] = str(first_ports[name])
    result = dict(data)
    if "env" in data:
        result["env"] = interpolate_tree(data["env"], ("env",), lookup, problems)
    variants: dict[str, list[object]] = {}
    if isinstance(services, dict):
        interpolated = {}
        for name, raw in services.items():
            first, picked = first_ports[name], auto_ports.get(name)

            def each(number: int, into: Collector, name: str = name, raw: object = raw,
                     first: int | None = first, picked: Sequence[int] | None = picked) -> object:
                port = _instance_port(first, picked, number)
                return _interpolate_service(name, raw, number, lookup, into, port)

            interpolated[name] = each(1, problems)
            replicas = _lookup(interpolated[name], ("replicas",))
            replicas = 1 if replicas is None else replicas
            if isinstance(replicas, int) and 1 <= replicas <= MAX_REPLICAS:
                # instance 2 is computed even for one replica: `-c web=2` may ask for it
                quiet = Collector(problems.source)   # instance 1 reported the problems
                second = each(2, quiet)
                if _differs_by_instance(second, interpolated[name]):
                    variants[name] = [second, *(each(n, quiet) for n in range(3, replicas + 1))]
        result["services"] = interpolated
    return result, variants


#: As the schema's `replicas` maximum.
MAX_REPLICAS = 10000
MAX_PORT = 65535


def _first_port(raw: object, lookup: Mapping[str, str], base: int | None,
                picked: Sequence[int] | None) -> int | None:
    """Instance 1's `PORT`: picked for `port: auto`, `port:` itself (also as `${VAR}`), or
    -p's rule for this service; None when there is nothing to say."""
    if picked:
        return picked[0]
    port = raw.get("port") if isinstance(raw, dict) else None
    if isinstance(port, str):   # `port: ${WEB_PORT:-8000}`
        with contextlib.suppress(InterpolationError):
            port = interpolate(port, lookup).strip()
        port = int(port) if isinstance(port, str) and port.isascii() and port.isdigit() else None
    if not isinstance(port, int) or isinstance(port, bool):
        return base
    return port


def _instance_port(first: int | None, picked: Sequence[int] | None, number: int) -> int | None:
    if picked is not None:
        return picked[number - 1] if number <= len(picked) else None
    return None if first is None else first + number - 1


def _interpolate_service(name: str, raw: object, number: int, lookup: Mapping[str, str],
                         problems: Collector, port: int | None) -> object:
    service_lookup = {**lookup, "ORCHESTRA_SERVICE": name, "PS": f"{name}.{number}"}
    if port is not None:
        service_lookup["PORT"] = str(port)
    value = interpolate_tree(raw, ("services", name), service_lookup, problems)
    return _numbers_from_variables(raw, value)


def _differs_by_instance(second: object, first: object) -> bool:
    """Whether instance 2's data differs from instance 1's other than in `port` itself."""
    if isinstance(second, dict) and isinstance(first, dict):
        return {k: v for k, v in second.items() if k != "port"} != \
            {k: v for k, v in first.items() if k != "port"}
    return second != first


#: Keys whose value is a number; `port: ${WEB_PORT:-8000}` gives one through a string.
_NUMBER_KEYS = (("port",), ("replicas",), ("restart", "max_restarts"),
                ("readiness", "retries"), ("liveness", "retries"))
#: Durations, which may be plain numbers too: `stop_timeout: ${STOP:-10}` is 10 seconds.
_DURATION_KEYS = (("stop_timeout",), ("restart", "backoff"),
                  *((check, key) for check in ("readiness", "liveness")
                    for key in ("interval", "timeout", "start_period")))
_PLAIN_NUMBER = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+")


def _numbers_from_variables(raw: object, value: object) -> object:
    """A number written as `${VAR}` becomes the number it expands to (as in compose); a
    literal string stays a string, for the schema to report."""
    for keys in (*_NUMBER_KEYS, *_DURATION_KEYS):
        written, holder = _lookup(raw, keys[:-1]), _lookup(value, keys[:-1])
        if not isinstance(written, dict) or not isinstance(holder, dict):
            continue
        before, after = written.get(keys[-1]), holder.get(keys[-1])
        if not (isinstance(before, str) and "${" in before and isinstance(after, str)):
            continue
        if keys in _NUMBER_KEYS and after.strip().isascii() and after.strip().isdigit():
            holder[keys[-1]] = int(after)
        elif keys in _DURATION_KEYS and _PLAIN_NUMBER.fullmatch(after.strip()):
            holder[keys[-1]] = float(after)
    return value


def _lookup(data: object, keys: tuple[str, ...]) -> object:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data
