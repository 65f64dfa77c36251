"""typer's view of the options in `cli/flags.py`, and the global ones honcho users type first.

`-f`, `-e` and `-d` work before the subcommand (`orchestra -e .env.test run ...`, as honcho
accepts) and after it; the value given after the subcommand wins.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from orchestra.cli import flags
from orchestra.cli.flags import Flag
from orchestra.cli.values import load_options as _load_options
from orchestra.config.loader import LoadOptions


def option(flag: Flag) -> Any:
    """The typer.Option for a flag of the table."""
    return typer.Option(*flag.names, help=flag.help, envvar=flag.envvar,
                        show_envvar=flag.envvar is not None)


#: A path type, so that click splits ORCHESTRA_FILE at ":" as it splits a path list.
FileOption = Annotated[list[Path] | None, option(flags.FILE)]   # repeatable: layered files
#: `logs` keeps `-f` for --follow (as tail, docker and overmind spell it): its config file is
#: named in full, `--file`, or with `-f` before the command (`orchestra -f x.yaml logs`).
LongFileOption = Annotated[list[Path] | None, option(
    flags.FILE._replace(names=tuple(name for name in flags.FILE.names if name != "-f")))]
ProfileOption = Annotated[list[str] | None, option(flags.PROFILE)]
EnvOption = Annotated[list[str] | None, option(flags.ENV)]   # repeatable: joined
AppRootOption = Annotated[Path | None, option(flags.APP_ROOT)]
PortOption = Annotated[int | None, option(flags.PORT)]
TimeoutOption = Annotated[float | None, option(flags.TIMEOUT)]
NoPrefixOption = Annotated[bool, option(flags.NO_PREFIX)]
NoTimestampsOption = Annotated[bool, option(flags.NO_TIMESTAMPS)]
NoColorOption = Annotated[bool, option(flags.NO_COLOR)]
OutputOption = Annotated[str, option(flags.OUTPUT)]
MaxLineOption = Annotated[int, option(flags.MAX_LINE)]
RawOption = Annotated[bool, option(flags.RAW)]
TtyOption = Annotated[list[str] | None, option(flags.TTY)]
DEFAULT_MAX_LINE = flags.DEFAULT_MAX_LINE


@dataclass(frozen=True, slots=True)
class GlobalOptions:
    file: tuple[str, ...] = ()
    env: str | None = None
    app_root: str | None = None


def joined(values: list[str] | None) -> str | None:
    """A repeatable comma-separated option (`flags.Flag.joined`) as one comma-separated value,
    as the quick parser reads it: `-c web=2 -c worker=3` is `web=2,worker=3`."""
    return ",".join(values) if values else None


def with_globals(ctx: typer.Context, file: Sequence[str | os.PathLike[str]] | None,
                 env_given: list[str] | None,
                 app_root: str | os.PathLike[str] | None) -> GlobalOptions:
    """The command's -f/-e/-d over the global ones given before the command (the command's
    -f files and -e files replace the global ones, they are not added to them)."""
    files = tuple(os.fspath(path) for path in file or ())
    root_folder = os.fspath(app_root) if app_root else None
    env = joined(env_given)
    root_ctx = ctx.find_root()
    root = root_ctx.obj
    if isinstance(root, GlobalOptions):
        # a -f typed before the command beats ORCHESTRA_FILE, which click hands the command's
        # own -f too (as the quick parser reads it: the command line before the environment)
        typed_before = _typed(root_ctx, "file") and not _typed(ctx, "file")
        files = root.file if typed_before else files or root.file
        env = env if env is not None else root.env
        root_folder = root_folder or root.app_root
    return GlobalOptions(files, env, root_folder)


def _typed(ctx: Any, name: str) -> bool:   # typer's Context, or the root's click one
    source = ctx.get_parameter_source(name)
    return source is not None and source.name == "COMMANDLINE"


def load_options(ctx: typer.Context, file: Sequence[str | os.PathLike[str]] | None,
                 env: list[str] | None, app_root: str | os.PathLike[str] | None) -> LoadOptions:
    """Merge the command's -f/-e/-d with the global ones (the command's win)."""
    merged = with_globals(ctx, file, env, app_root)
    return _load_options(merged.file, merged.env, merged.app_root)
