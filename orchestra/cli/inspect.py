"""Commands that read the config and start nothing: check, config, graph, version."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from orchestra import __version__
from orchestra.cli.options import (
    AppRootOption,
    EnvOption,
    FileOption,
    PortOption,
    ProfileOption,
    load_options,
)
from orchestra.cli.values import active_profiles, check_port
from orchestra.config.loader import load_spec
from orchestra.config.model import SourceKind, Spec
from orchestra.errors import OrchestraError, UsageError
from orchestra.plan import check_profiles
from orchestra.streams import abandon_stdout


def _checked_profiles(spec: Spec, given: list[str] | None) -> frozenset[str]:
    """`--profile` (or $ORCHESTRA_PROFILES) checked against the config, as `up` checks it."""
    profiles = active_profiles(tuple(given or ()), os.environ)
    check_profiles(spec, profiles)
    return profiles


def check(ctx: typer.Context, file: FileOption = None, env: EnvOption = None,
          app_root: AppRootOption = None, port: PortOption = None,
          profiles: ProfileOption = None) -> None:
    """Validate the config and report every problem (exit 2), or summarise it (exit 0)."""
    check_port(port)
    spec = load_spec(load_options(ctx, file, env, app_root)._replace(base_port=port))
    _checked_profiles(spec, profiles)
    names = ", ".join(spec.names())
    if spec.kind is SourceKind.PROCFILE:
        typer.echo(f"Valid procfile detected ({names})", err=True)
    count = len(spec.services)
    write_output(f"valid: {count} service{'s' if count != 1 else ''} ({names})\n")


def config(
    ctx: typer.Context,
    file: FileOption = None,
    env: EnvOption = None,
    app_root: AppRootOption = None,
    port: PortOption = None,
    profiles: ProfileOption = None,
    output_format: Annotated[str, typer.Option(
        "--format", help="Output format: yaml or json.")] = "yaml",
    show_env: Annotated[bool, typer.Option(
        "--show-env", help="Show values that came from env files instead of masking them.")]
        = False,
) -> None:
    """Print the resolved model: argv, working directory, environment, dependencies, ports.

    Layered files (`-f` repeated, orchestra.override.yaml) are shown merged."""
    from orchestra.cli.config_view import render_spec

    if output_format not in ("yaml", "json"):
        raise UsageError(f"invalid --format '{output_format}' (expected yaml or json)")
    check_port(port)
    spec = load_spec(load_options(ctx, file, env, app_root)._replace(base_port=port))
    _checked_profiles(spec, profiles)
    write_output(render_spec(spec, output_format, show_env=show_env))


def graph(
    ctx: typer.Context,
    file: FileOption = None,
    env: EnvOption = None,
    app_root: AppRootOption = None,
    profiles: ProfileOption = None,
    output_format: Annotated[str, typer.Option(
        "--format", help="mermaid or dot (Graphviz).")] = "mermaid",
) -> None:
    """Print the dependency graph, with each edge's condition."""
    from orchestra.cli.graph_view import RENDERERS

    if output_format not in RENDERERS:
        raise UsageError(f"invalid --format '{output_format}' (expected mermaid or dot)")
    spec = load_spec(load_options(ctx, file, env, app_root))
    _checked_profiles(spec, profiles)
    write_output(RENDERERS[output_format](spec))


def version() -> None:
    """Print orchestra's version."""
    write_output(f"orchestra {__version__}\n")


def write_output(text: str) -> None:
    """Print a command's result; a failing write is one line on stderr, not a traceback.

    A reader that went away (`orchestra config | head -1`) is no news to the user: exit 1
    quietly. Any other failure (a full disk, an I/O error) says what happened.
    """
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as exc:
        abandon_stdout()
        if isinstance(exc, BrokenPipeError):
            raise typer.Exit(1) from None
        raise OrchestraError(f"cannot write output: {exc.strerror or exc}") from None
