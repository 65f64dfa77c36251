"""`orchestra export`: the plan `up` would run, as files for systemd, supervisord, docker
compose, Kubernetes or Nomad (DESIGN §6).

`project.py` turns the plan into plain data; each format module builds its target's data from
that and serialises it with a library or with a serialiser of its own that quotes every value
(no text templates with pasted commands). `write_files` is the only code that writes.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from orchestra.export.project import ExportError, ExportFile, ExportProject

FORMATS = ("systemd", "supervisord", "compose", "kubernetes", "nomad")


def render(format_name: str, project: ExportProject) -> list[ExportFile]:
    """The files of one format (raises ExportError for what the format cannot carry)."""
    if format_name not in FORMATS:
        raise ExportError(f"unknown format '{format_name}' (expected {', '.join(FORMATS)})")
    module = importlib.import_module(f"orchestra.export.{format_name}")
    renderer: Callable[[ExportProject], list[ExportFile]] = module.render
    return renderer(project)


def write_files(directory: Path, files: Sequence[ExportFile]) -> list[Path]:
    """Write each file into `directory` (created if missing) and nowhere else.

    A file that holds `.env` values is created 0600, and an existing one is narrowed to 0600
    before anything is written to it; a symlink in its place is refused (O_NOFOLLOW), so the
    values cannot be sent elsewhere.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create the folder {directory}: {exc.strerror}") from None
    written = []
    for item in files:
        if "/" in item.name or item.name in ("", ".", ".."):
            raise ExportError(f"refusing to write '{item.name}' outside {directory}")
        path = directory / item.name
        mode = 0o600 if item.secret else 0o644
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(path, flags, mode)
        except OSError as exc:
            raise ExportError(f"cannot write {path}: {exc.strerror}") from None
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            os.fchmod(fd, mode)
            stream.write(item.text)
        written.append(path)
    return written
