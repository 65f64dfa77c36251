"""Commands that read the config and start nothing: check, config, graph, version."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Annotated

import typer

from orchestra import __version__
from orchestra.cli.options import (
    AppRootOption,
    EnvOption,
    FileOption,
    PortOption,
    load_options,
)
from orchestra.cli.values import check_port
from orchestra.config.loader import load_spec
from orchestra.config.model import SourceKind
from orchestra.errors import UsageError


def check(ctx: typer.Context, file: FileOption = None, env: EnvOption = None,
          app_root: AppRootOption = None, port: PortOption = None) -> None:
    """Validate the config and report every problem (exit 2), or summarise it (exit 0)."""
    check_port(port)
    spec = load_spec(replace(load_options(ctx, file, env, app_root), base_port=port))
    names = ", ".join(spec.names())
    if spec.kind is SourceKind.PROCFILE:
        typer.echo(f"Valid procfile detected ({names})", err=True)
    count = len(spec.services)
    typer.echo(f"valid: {count} service{'s' if count != 1 else ''} ({names})")


def config(
    ctx: typer.Context,
    file: FileOption = None,
    env: EnvOption = None,
    app_root: AppRootOption = None,
    port: PortOption = None,
    output_format: Annotated[str, typer.Option(
        "--format", help="Output format: yaml or json.")] = "yaml",
    show_env: Annotated[bool, typer.Option(
        "--show-env", help="Show values that came from env files instead of masking them.")]
        = False,
) -> None:
    """Print the resolved model: argv, working directory, environment, dependencies.

    Layered files (`-f` repeated, orchestra.override.yaml) are shown merged."""
    from orchestra.cli.config_view import render_spec

    if output_format not in ("yaml", "json"):
        raise UsageError(f"invalid --format '{output_format}' (expected yaml or json)")
    check_port(port)
    spec = load_spec(replace(load_options(ctx, file, env, app_root), base_port=port))
    sys.stdout.write(render_spec(spec, output_format, show_env=show_env))


def graph(
    ctx: typer.Context,
    file: FileOption = None,
    env: EnvOption = None,
    app_root: AppRootOption = None,
    output_format: Annotated[str, typer.Option(
        "--format", help="mermaid or dot (Graphviz).")] = "mermaid",
) -> None:
    """Print the dependency graph, with each edge's condition."""
    from orchestra.cli.graph_view import RENDERERS

    if output_format not in RENDERERS:
        raise UsageError(f"invalid --format '{output_format}' (expected mermaid or dot)")
    spec = load_spec(load_options(ctx, file, env, app_root))
    sys.stdout.write(RENDERERS[output_format](spec))


def version() -> None:
    """Print orchestra's version."""
    typer.echo(f"orchestra {__version__}")
