"""systemd: one `.service` unit per instance and a `.target` that starts them all.

Quoting (systemd.service(5), systemd.exec(5)): every ExecStart word is double-quoted with C
escapes, `%` doubled (specifiers are expanded at load time) and `$` doubled (variables are
expanded when the command runs), a lone `;` escaped (it separates commands); `Environment=`
values are quoted the same way but keep `$` (no expansion there). `.env` values go to an
`EnvironmentFile=` beside the units, written 0600, whose double-quoted values escape
`"`, `\\`, `$` and backquote, as systemd's env-file reader expects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from orchestra.config.model import CheckKind, RestartMode
from orchestra.export.project import (
    ExportError,
    ExportFile,
    ExportInstance,
    ExportProject,
    ExportService,
)

Section = tuple[str, list[tuple[str, str]]]   # [Name], then Key=Value lines ("#": a comment)


def render(project: ExportProject) -> list[ExportFile]:
    app = project.target.app
    files = [ExportFile(f"{app}.target", unit_text(_target(project)))]
    for service in project.services:
        for instance in service.instances:
            env_file = None
            if instance.secrets:
                env_file = f"{unit_name(app, instance)[:-len('.service')]}.env"
                files.append(ExportFile(env_file, env_file_text(instance.secrets), secret=True))
            files.append(ExportFile(unit_name(app, instance),
                                    unit_text(_service_unit(project, service, instance,
                                                            env_file))))
    return files


def unit_name(app: str, instance: ExportInstance) -> str:
    return f"{app}-{instance.name}.service"


def _target(project: ExportProject) -> list[Section]:
    app = project.target.app
    units = [unit_name(app, i) for s in project.services for i in s.instances]
    wanted_by = "default.target" if project.target.user_units else "multi-user.target"
    return [
        ("Unit", [("Description", _specifiers(f"{app} (exported by orchestra)")),
                  *(("Wants", unit) for unit in units)]),
        ("Install", [("WantedBy", wanted_by)]),
    ]


def _service_unit(project: ExportProject, service: ExportService, instance: ExportInstance,
                  env_file: str | None) -> list[Section]:
    target = project.target
    unit: list[tuple[str, str]] = [
        ("Description", _specifiers(f"{target.app} {instance.name} (exported by orchestra)")),
        ("PartOf", f"{target.app}.target"),
    ]
    for dep in service.depends_on:
        for other in project.service(dep.service).instances:
            unit += [("After", unit_name(target.app, other)),
                     ("Requires", unit_name(target.app, other)),
                     ("#", f"{dep.service}: condition {dep.condition.value}")]
    unit += _start_limit(service)
    body: list[tuple[str, str]] = [*_start_type(service)]
    body.append(("ExecStart", exec_line(instance.argv)))
    body += _readiness(service)
    body.append(("WorkingDirectory", _specifiers(str(service.cwd))))
    if target.user is not None:
        if target.user_units:
            raise ExportError("-u/--user names the account of system units; user units "
                              "(--user-units) run as their user")
        body.append(("User", _specifiers(target.user)))
    body += [("Environment", environment_word(k, v)) for k, v in instance.env.items()]
    if env_file is not None:
        folder = "user" if target.user_units else "system"
        body.append(("EnvironmentFile", f"%E/systemd/{folder}/{_specifiers(env_file)}"))
    if target.log_dir is not None:
        log = _specifiers(str(target.log_dir / f"{instance.name}.log"))
        body += [("StandardOutput", f"append:{log}"), ("StandardError", f"append:{log}")]
    body += _restart(service)
    body += [("KillMode", "control-group"), ("KillSignal", service.stop_signal),
             ("TimeoutStopSec", _seconds(service.stop_timeout))]
    if service.liveness is not None:
        body.append(("#", f"liveness {service.liveness.describe()}: systemd has no such "
                          "probe; it is not carried over"))
    if service.tty:
        body.append(("#", "tty: true: the unit gets no terminal of its own; not carried over"))
    return [("Unit", unit), ("Service", body), ("Install", [("WantedBy", f"{target.app}.target")])]


def _start_type(service: ExportService) -> list[tuple[str, str]]:
    """oneshot for what dependents wait to complete; notify for `notify` readiness."""
    if service.one_shot:
        return [("Type", "oneshot"), ("RemainAfterExit", "yes"), ("TimeoutStartSec", "infinity")]
    if service.readiness is not None and service.readiness.kind is CheckKind.NOTIFY:
        return [("Type", "notify"), ("NotifyAccess", "all")]
    return [("Type", "exec")]


def _readiness(service: ExportService) -> list[tuple[str, str]]:
    """An `exec` check becomes ExecStartPost= that repeats it until it passes, so units
    ordered after this one wait for it; tcp, http and log checks have no systemd form."""
    check = service.readiness
    if check is None or check.kind is CheckKind.NOTIFY or service.one_shot:
        return []
    if check.kind is CheckKind.EXEC:
        loop = ("/bin/sh", "-c", f'until "$@"; do sleep {check.interval:g}; done', "sh",
                *check.argv)
        return [("ExecStartPost", exec_line(loop)),
                ("TimeoutStartSec", _seconds(check.start_period))]
    return [("#", f"readiness {check.describe()}: systemd has no such probe; units ordered "
                  "after this one start when it has started")]


def _restart(service: ExportService) -> list[tuple[str, str]]:
    policy = service.restart
    if policy.mode is RestartMode.ALWAYS and service.one_shot:
        raise ExportError(f"systemd: {service.name} is waited for until it completes "
                          "(Type=oneshot), which systemd cannot restart always")
    mode = {RestartMode.NO: "no", RestartMode.ON_FAILURE: "on-failure",
            RestartMode.ALWAYS: "always"}[policy.mode]
    return [("Restart", mode), ("RestartSec", _seconds(policy.backoff))]


def _start_limit(service: ExportService) -> list[tuple[str, str]]:
    """`max_restarts: N`: N + 1 starts in all; unlimited: no start limit at all."""
    policy = service.restart
    if policy.mode is RestartMode.NO:
        return []
    if policy.max_restarts is None:
        return [("StartLimitIntervalSec", "0")]
    return [("StartLimitIntervalSec", "infinity"),
            ("StartLimitBurst", str(policy.max_restarts + 1))]


def _seconds(seconds: float) -> str:
    """`10s`, or `1500ms` where the value is not whole seconds."""
    millis = round(seconds * 1000)
    return f"{millis // 1000}s" if millis % 1000 == 0 else f"{millis}ms"


# --------------------------------------------------------------------------- quoting

def _specifiers(text: str) -> str:
    if "\n" in text or "\r" in text:
        raise ExportError(f"systemd: {text!r}: a line break cannot be part of this setting")
    return text.replace("%", "%%")


def _c_escape(text: str) -> str:
    out = []
    for char in text:
        if char in '\\"':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return "".join(out).replace("%", "%%")


def exec_word(arg: str) -> str:
    if arg == ";":
        return "\\;"
    return '"' + _c_escape(arg).replace("$", "$$") + '"'


def exec_line(argv: Iterable[str]) -> str:
    words = list(argv)
    if not words[0].startswith("/"):
        # orchestra finds a program on the service's PATH; systemd would search its own
        if "=" in words[0]:
            raise ExportError(f"systemd: program name {words[0]!r} holds '='")
        words = ["/usr/bin/env", *words]
    return " ".join(exec_word(w) for w in words)


def environment_word(key: str, value: str) -> str:
    _check_name(key)
    return '"' + _c_escape(f"{key}={value}") + '"'


def env_file_text(values: Mapping[str, str]) -> str:
    lines = []
    for key, value in values.items():
        _check_name(key)
        escaped = "".join("\\" + c if c in '"\\$`' else c for c in value)
        lines.append(f'{key}="{escaped}"\n')
    return "".join(lines)


def _check_name(key: str) -> None:
    if not (key.isascii() and key.replace("_", "a").isalnum() and not key[0].isdigit()):
        raise ExportError(f"systemd: environment name {key!r} is not a valid name "
                          "(letters, digits and _, not starting with a digit)")


def unit_text(sections: list[Section]) -> str:
    chunks = []
    for name, entries in sections:
        lines = [f"[{name}]"]
        for key, value in entries:
            if key == "#":
                lines.append("# " + " ".join(value.split()))
            else:
                if "\n" in value or "\r" in value:
                    raise ExportError(f"systemd: {key}= cannot hold a line break")
                lines.append(f"{key}={value}")
        chunks.append("\n".join(lines) + "\n")
    return "\n".join(chunks)
