"""`orchestra export FORMAT DIR`: the plan `up` would run, as files for another engine.

The flags keep honcho's and foreman's letters, so their users' export lines keep working.
Everything heavy (the loader, the formats, ruamel.yaml) is imported inside the command.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from typing import Annotated

import typer

from orchestra.cli.options import EnvOption, FileOption, PortOption, ProfileOption, load_options
from orchestra.cli.values import active_profiles, check_port
from orchestra.errors import UsageError

FORMAT_NAMES = ("systemd", "supervisord", "compose", "kubernetes", "nomad")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def export(
    ctx: typer.Context,
    format_name: Annotated[str, typer.Argument(
        metavar="FORMAT", help="systemd, supervisord, compose, kubernetes or nomad.")],
    directory: Annotated[Path, typer.Argument(
        metavar="DIR", help="Folder to write into (created if missing); nothing else is "
                            "written.")],
    services: Annotated[list[str] | None, typer.Argument(
        metavar="SERVICE",
        help="Services to export (plus their dependencies). Default: all enabled.")] = None,
    file: FileOption = None,
    env: EnvOption = None,
    app_root: Annotated[Path | None, typer.Option(
        "-d", "--app-root", help="Where the project is here (foreman's -d): the config and "
                                 ".env are found there.")] = None,
    namespace: Annotated[str | None, typer.Option(
        "--namespace", "-n", help="Export the services of this namespace (plus dependencies).")]
        = None,
    profiles: ProfileOption = None,
    formation: Annotated[list[str] | None, typer.Option(
        "-c", "--concurrency", "-m", "--formation",
        help="Instances per service, e.g. web=2,worker=0,all=1. Repeatable.")] = None,
    app: Annotated[str | None, typer.Option(
        "-a", "--app", help="Application name: file names, group, target, job. Default: the "
                            "project folder's name.")] = None,
    user: Annotated[str | None, typer.Option(
        "-u", "--user", help="Account the services run as (systemd, supervisord, compose, "
                             "nomad; a numeric uid for kubernetes).")] = None,
    log: Annotated[str | None, typer.Option(
        "-l", "--log", help="Folder on the target for log files (systemd, supervisord).")]
        = None,
    port: PortOption = None,
    image: Annotated[str | None, typer.Option(
        "--image", help="Image whose filesystem holds the project (compose and kubernetes: "
                        "required).")] = None,
    root: Annotated[str | None, typer.Option(
        "--root", help="Absolute path of the project folder on the target. Default: where it "
                       "is here.")] = None,
    user_units: Annotated[bool, typer.Option(
        "--user-units", help="systemd: units for a user's manager (systemctl --user).")]
        = False,
) -> None:
    """Write the services as systemd units, a supervisord config, a compose file, Kubernetes
    manifests or a Nomad job, with dependencies, readiness, restarts and stop settings.

    Values from .env files go where the target keeps such files (systemd EnvironmentFile=,
    compose env_file, a Kubernetes Secret); supervisord and Nomad have none, so they are
    inlined and that file is written 0600.
    """
    from orchestra.config.loader import load_spec
    from orchestra.export import render, write_files
    from orchestra.export.project import ExportError, Target, export_project
    from orchestra.plan import Selection, make_plan, parse_formation

    if format_name not in FORMAT_NAMES:
        raise UsageError(f"unknown export format '{format_name}' "
                         f"(expected {', '.join(FORMAT_NAMES)})")
    check_port(port)
    _check_format_options(format_name, user=user, log=log, image=image, user_units=user_units)
    # the flags first: a bad one is reported before the config is read
    target_root = _target_path("--root", root) if root is not None else None
    log_dir = _target_path("-l/--log", log) if log is not None else None
    if app is not None:
        _app_name(app, Path())
    options = load_options(ctx, file, env, app_root)._replace(base_port=port)
    spec = load_spec(options)
    selection = Selection(services=tuple(services or ()), namespace=namespace,
                          formation=parse_formation(",".join(formation)) if formation else {},
                          base_port=port,
                          profiles=active_profiles(tuple(profiles or ()), os.environ))
    plan = make_plan(spec, selection, options.environ)
    target = Target(
        app=_app_name(app, Path(spec.root)),
        root=target_root or PurePosixPath(spec.root),
        user=user,
        log_dir=log_dir,
        image=image,
        user_units=user_units,
    )
    try:
        files = render(format_name, export_project(plan, target))
        written = write_files(directory, files)
    except ExportError as exc:
        raise UsageError(str(exc)) from None
    for path in written:
        typer.echo(str(path))


def _check_format_options(format_name: str, *, user: str | None, log: str | None,
                          image: str | None, user_units: bool) -> None:
    """Each option where it means something; elsewhere a clear usage error, not silence."""
    if image is None and format_name in ("compose", "kubernetes"):
        raise UsageError(f"{format_name} needs --image IMAGE: the image whose filesystem "
                         "holds the project")
    if image is not None and format_name not in ("compose", "kubernetes"):
        raise UsageError(f"--image is for compose and kubernetes; {format_name} runs the "
                         "commands on the host")
    if log is not None and format_name not in ("systemd", "supervisord"):
        raise UsageError(f"-l/--log is for systemd and supervisord; {format_name} keeps "
                         "the services' output itself")
    if user_units and format_name != "systemd":
        raise UsageError("--user-units is for systemd")
    if user is not None and format_name == "kubernetes" and not (
            user.isascii() and user.isdigit()):
        raise UsageError(f"-u/--user {user!r}: kubernetes takes a numeric uid (runAsUser)")
    if user is not None and not NAME.fullmatch(user.replace(".", "_")):
        raise UsageError(f"-u/--user {user!r} is not an account name")


def _app_name(app: str | None, root: Path) -> str:
    rule = "an application name is letters, digits, '-' and '_'"
    if app is None:
        if not NAME.fullmatch(root.name):
            raise UsageError(f"the project folder's name {root.name!r}: {rule} "
                             "(name it with -a NAME)")
        return root.name
    if not NAME.fullmatch(app):
        raise UsageError(f"-a/--app {app!r}: {rule}")
    return app


def _target_path(option: str, text: str) -> PurePosixPath:
    path = PurePosixPath(text)
    if not path.is_absolute() or "\n" in text:
        raise UsageError(f"{option} {text!r}: an absolute path on the target is needed")
    return path
