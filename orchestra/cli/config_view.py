"""`orchestra config`: the resolved model as YAML or JSON, with env-file values masked.

Values that came from `.env` files are usually secrets, so they are shown as `***` unless the
user asks with `--show-env`; values written in the YAML itself are shown as they are.
"""

from __future__ import annotations

import io
import json

from orchestra.config.model import Service, Spec, WatchAction
from orchestra.config.model_parts import Check, Dependency, Watch
from orchestra.config.values import signal_name

MASK = "***"
MIN_SECRET = 3


def _as_run(argv: tuple[str, ...]) -> list[str]:
    """The argv that is exec'd for `argv`: a shell string with no shell syntax at all runs
    without the shell, split at spaces. `runtime/shellwords.py`'s `plain_words` decides this for
    the runtime, so what `config` shows is what runs."""
    from orchestra.runtime.shellwords import plain_words

    words = plain_words(argv)
    return list(argv) if words is None else words


def _check(check: Check | None) -> dict[str, object] | None:
    if check is None:
        return None
    data: dict[str, object] = {"kind": check.kind.value}
    for key in ("host", "port", "url", "pattern"):
        value = getattr(check, key)
        if value is not None:
            data[key] = value
    if check.argv:
        data["argv"] = _as_run(check.argv)
    data.update(interval=check.interval, timeout=check.timeout, retries=check.retries,
                start_period=check.start_period)
    return data


def _dependency(dependency: Dependency) -> object:
    """`ready`, or `{condition: ready, restart: true}` when it restarts with the dependency."""
    if not dependency.restart:
        return dependency.condition.value
    return {"condition": dependency.condition.value, "restart": True}


def _watch(watch: Watch | None) -> dict[str, object] | None:
    if watch is None:
        return None
    data: dict[str, object] = {"paths": [str(p) for p in watch.paths],
                               "ignore": list(watch.ignore), "debounce": watch.debounce,
                               "action": watch.action.value}
    if watch.action is WatchAction.SIGNAL:
        data["signal"] = signal_name(watch.signal)
    return data


def _service(spec: Spec, service: Service, show_env: bool) -> dict[str, object]:
    from orchestra.discovery import dependency_addresses

    data = _settings(service, show_env)
    # where its dependencies listen (`DB_HOST`, `DB_PORT`), set for it by `up`
    data["discovery"] = dependency_addresses(spec, service)
    if service.instances:
        # what instances 2, 3, … have of their own (their ${PORT} and ${PS})
        data["instances"] = {f"{service.name}.{n}": {
            key: value for key, value in _settings(instance, show_env).items()
            if value != data[key]} for n, instance in enumerate(service.instances, start=2)}
    return data


def _settings(service: Service, show_env: bool) -> dict[str, object]:
    env = {key: value if show_env or key not in service.secret_keys else MASK
           for key, value in sorted(service.env.items())}
    argv = _as_run(service.argv)
    return {
        "argv": argv,
        "shell": service.shell and argv == list(service.argv),
        "cwd": str(service.run_dir),
        "env": env,
        "namespace": service.namespace,
        "depends_on": {d.service: _dependency(d) for d in service.depends_on},
        "readiness": _check(service.readiness),
        "liveness": _check(service.liveness),
        "restart": {"policy": service.restart.mode.value,
                    "max_restarts": service.restart.max_restarts,
                    "backoff": service.restart.backoff},
        "stop_signal": signal_name(service.stop_signal),
        "stop_timeout": service.stop_timeout,
        "replicas": service.replicas,
        "port": service.port,
        **({"auto_ports": list(service.auto_ports)} if service.auto_ports else {}),
        "disabled": service.disabled,
        "profiles": list(service.profiles),
        **({"watch": _watch(service.watch)} if service.watch else {}),
        **({"tty": True} if service.tty else {}),
    }


def _secret_values(spec: Spec) -> list[str]:
    """Values that came from env files, longest first (so a value containing another is
    masked whole). Very short ones are left out: masking every "1" would hide nothing."""
    values = {spec.env[k] for k in spec.secret_keys}
    for service in spec.services:
        values.update(service.env[k] for k in service.secret_keys)
    return sorted((v for v in values if len(v) >= MIN_SECRET), key=len, reverse=True)


def _mask(data: object, secrets: list[str]) -> object:
    """A secret reached through `${VAR}` (in `env`, `command`, a URL...) is masked too."""
    if isinstance(data, str):
        for secret in secrets:
            data = data.replace(secret, MASK)
        return data
    if isinstance(data, list):
        return [_mask(item, secrets) for item in data]
    if isinstance(data, dict):
        return {key: _mask(value, secrets) for key, value in data.items()}
    return data


def spec_data(spec: Spec, *, show_env: bool = False) -> dict[str, object]:
    services = {s.name: _service(spec, s, show_env) for s in spec.services}
    layers = {"layers": [str(p) for p in spec.layers]} if spec.layers else {}
    return {
        "file": str(spec.path),
        **layers,
        "kind": spec.kind.value,
        "services": services if show_env else _mask(services, _secret_values(spec)),
    }


def render_spec(spec: Spec, output_format: str, *, show_env: bool = False) -> str:
    data = spec_data(spec, show_env=show_env)
    if output_format == "json":
        return json.dumps(data, indent=2) + "\n"
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue()
