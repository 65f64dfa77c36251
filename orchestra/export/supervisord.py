"""supervisord: `APP.conf` with one `[program:x]` per service and a `[group:APP]`, to include
from supervisord.conf (as honcho's export writes it).

Quoting follows how supervisor reads each value: every value is `%`-expanded (`%` doubled);
the INI reader cuts a value at `;` or `#` after whitespace (so such a character is moved out
of the quotes that hold the whitespace); `command` is split by `shlex.split`; `environment`
is read by a non-POSIX shlex that keeps quotes and then strips them from both ends, so a value
is single- or double-quoted and cannot hold both quote kinds nor start or end with a quote.
supervisord has no env files: `.env` values are inlined, so the file is written 0600.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

from orchestra.config.model import RestartMode
from orchestra.export.project import (
    ExportError,
    ExportFile,
    ExportInstance,
    ExportProject,
    ExportService,
)

Section = tuple[str, list[tuple[str, str]]]   # [name], then key=value lines (";": a comment)
#: supervisor's stopsignal accepts these names only
STOP_SIGNALS = ("TERM", "HUP", "INT", "QUIT", "KILL", "USR1", "USR2")
ENV_NAME = re.compile(r"[A-Za-z0-9_/.+\-():]+")


def render(project: ExportProject) -> list[ExportFile]:
    app = project.target.app
    sections: list[Section] = []
    for position, service in enumerate(project.services):
        if len(service.instances) > 1 and service.same_but_ps():
            sections.append(_program(project, service, service.instances[0], position,
                                     replicas=len(service.instances)))
        else:
            sections += [_program(project, service, instance, position, replicas=1)
                         for instance in service.instances]
    programs = ",".join(name.removeprefix("program:") for name, _ in sections)
    sections.append((f"group:{app}", [("programs", programs)]))
    return [ExportFile(f"{app}.conf", ini_text(sections), secret=project.has_secrets())]


def _program(project: ExportProject, service: ExportService, instance: ExportInstance,
             position: int, replicas: int) -> Section:
    target = project.target
    name = service.name if replicas > 1 else instance.name
    env = {**instance.env, **instance.secrets}
    for value in (*instance.argv, *env.values()):
        if "\n" in value or "\r" in value:
            raise ExportError(f"supervisord: {service.name}: {value!r} holds a line break, "
                              "which supervisor's config cannot carry")
    lines: list[tuple[str, str]] = [
        (";", f"dependency {d.service} ({d.condition.value}): supervisord starts programs "
              "in priority order and does not wait") for d in service.depends_on]
    lines += [("command", command_value(instance.argv)),
              ("directory", _expanded(str(service.cwd)))]
    if replicas > 1:
        # each replica's own PS, from supervisor's process number
        lines += [("process_name", "%(program_name)s.%(process_num)d"),
                  ("numprocs", str(replicas)), ("numprocs_start", "1")]
        env["PS"] = ""
    try:
        environment = environment_value(env, ps_from_process_num=replicas > 1)
    except ExportError as exc:
        raise ExportError(f"supervisord: {service.name}: {exc}") from None
    lines.append(("environment", environment))
    lines += [("priority", str(100 + position)), ("autostart", "true")]
    lines += _restart(service)
    stop = service.stop_signal.removeprefix("SIG")
    if stop not in STOP_SIGNALS:
        raise ExportError(f"supervisord: {service.name}'s stop signal {service.stop_signal} "
                          f"is not one supervisord can send ({', '.join(STOP_SIGNALS)})")
    lines += [("stopsignal", stop), ("stopwaitsecs", str(math.ceil(service.stop_timeout))),
              ("stopasgroup", "true"), ("killasgroup", "true")]
    if target.user is not None:
        lines.append(("user", target.user))
    if target.log_dir is not None:
        # supervisor expands a log file's name twice: `%` is written `%%%%`
        folder = _expanded(_expanded(str(target.log_dir)))
        log_name = ("%(program_name)s.%(process_num)d" if replicas > 1
                    else _expanded(_expanded(instance.name)))
        lines += [("stdout_logfile", f"{folder}/{log_name}.log"),
                  ("stderr_logfile", f"{folder}/{log_name}.error.log")]
    for label, check in (("readiness", service.readiness), ("liveness", service.liveness)):
        if check is not None:
            lines.append((";", f"{label} {check.describe()}: supervisord has no such check"))
    if service.tty:
        lines.append((";", "tty: true: supervisord gives a program no terminal; not carried over"))
    return f"program:{name}", lines


def _restart(service: ExportService) -> list[tuple[str, str]]:
    """autorestart from the mode; startretries counts the restarts of a quick failure."""
    policy = service.restart
    if service.one_shot or policy.mode is RestartMode.NO:
        # startsecs=0: exiting at once is an expected end, not a failed start
        return [("autorestart", "false"), ("startsecs", "0"), ("startretries", "0")]
    mode = "unexpected" if policy.mode is RestartMode.ON_FAILURE else "true"
    lines = [("autorestart", mode), ("exitcodes", "0")]
    if policy.max_restarts is not None:
        lines.append(("startretries", str(policy.max_restarts)))
    return lines


# --------------------------------------------------------------------------- quoting

def _expanded(text: str) -> str:
    """A value as supervisor reads it: `%` starts an expansion, a line break ends it."""
    if "\n" in text or "\r" in text:
        raise ExportError(f"supervisord: {text!r}: a value cannot hold a line break")
    return text.replace("%", "%%")


def _shell_word(arg: str) -> str:
    """Single-quoted for shlex.split; `;`/`#` after whitespace stand outside the quotes."""
    if arg == "":
        return "''"
    pieces = []
    for part in re.split(r"(?<=\s)(?=[;#])", arg):
        pieces.append("'" + part.replace("'", "'\"'\"'") + "'")
    return "".join(pieces)


def command_value(argv: Sequence[str]) -> str:
    return " ".join(_expanded(_shell_word(arg)) for arg in argv)


def environment_value(env: Mapping[str, str], *, ps_from_process_num: bool) -> str:
    pairs = []
    for key, value in env.items():
        if not ENV_NAME.fullmatch(key):
            raise ExportError(f"environment name {key!r} cannot be written "
                              "(letters, digits and _/.+-(): only)")
        if key == "PS" and ps_from_process_num:
            pairs.append(f'{key}="%(program_name)s.%(process_num)d"')
            continue
        pairs.append(f"{key}={_env_value(key, value)}")
    return ",".join(pairs)


def _env_value(key: str, value: str) -> str:
    problem = None
    if value.startswith(("'", '"')) or value.endswith(("'", '"')):
        problem = "starts or ends with a quote"
    elif "'" in value and '"' in value:
        problem = "holds both kinds of quote"
    elif re.search(r"\s[;#]", value):
        problem = "holds ';' or '#' after whitespace (an INI comment to supervisor)"
    if problem is not None:
        raise ExportError(f"the value of {key} {problem}, which supervisor's "
                          "environment= cannot carry")
    quote = '"' if "'" in value else "'"
    return _expanded(quote + value + quote)


def ini_text(sections: list[Section]) -> str:
    chunks = []
    for name, entries in sections:
        lines = [f"[{name}]"]
        for key, value in entries:
            if key == ";":
                lines.append("; " + " ".join(value.split()))
            elif "\n" in value or "\r" in value:
                raise ExportError(f"supervisord: {key}= cannot hold a line break")
            else:
                lines.append(f"{key}={value}")
        chunks.append("\n".join(lines) + "\n")
    return "\n".join(chunks)
