"""Where a project's control socket lives: one socket per project, owner-only.

The folder is `$XDG_RUNTIME_DIR/orchestra` (else `orchestra-UID` in the temp directory, else in
`/tmp` when a socket path there would be too long), created 0700 and refused when it belongs to
someone else or others may enter it: a socket in a folder another user controls could be
replaced by theirs. The socket is named after the project — the folder of its config file, or
`--project-name` — with a short hash of the folder, so two checkouts of one project (same folder
name) are two projects.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import zlib
from collections.abc import Mapping

from orchestra.pathnames import join

#: sun_path holds 108 bytes with its NUL on Linux, 104 on macOS and the BSDs: a longer socket
#: path cannot be bound there.
MAX_SOCKET_PATH = 103


class ControlPathError(OSError):
    """No usable private folder for control sockets."""


def project_name(folder: str, name: str | None = None) -> str:
    """`--project-name`, else the folder's name plus a hash of its full path."""
    if name:
        return _safe(name)
    real = os.path.realpath(folder)
    digest = f"{zlib.crc32(os.fsencode(real)):08x}"
    return f"{_safe(os.path.basename(real)) or 'root'}-{digest}"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)[:32]


def socket_path(project: str, environ: Mapping[str, str] | None = None) -> str:
    """The control socket of `project`; its folder is made (0700) if needed."""
    environ = os.environ if environ is None else environ
    name = f"{project}.sock"
    for folder in _candidates(environ):
        if len(os.fsencode(join(folder, name))) > MAX_SOCKET_PATH:
            continue
        try:
            _private_folder(folder)
        except OSError:
            continue
        return join(folder, name)
    raise ControlPathError(f"no private folder for the control socket of '{project}' "
                           "(tried $XDG_RUNTIME_DIR, the temp directory and /tmp)")


def _candidates(environ: Mapping[str, str]) -> list[str]:
    uid = os.getuid()
    found = []
    runtime = environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime):
        found.append(join(runtime, "orchestra"))
    found.append(join(_temp_dir(environ), f"orchestra-{uid}"))
    found.append(join("/tmp", f"orchestra-{uid}"))
    return found


def _temp_dir(environ: Mapping[str, str]) -> str:
    """The temp directory as `tempfile.gettempdir` finds it on POSIX ($TMPDIR, $TEMP, $TMP,
    else /tmp), without importing tempfile (with shutil and random) on every start."""
    for name in ("TMPDIR", "TEMP", "TMP"):
        folder = environ.get(name)
        if folder and os.path.isdir(folder):
            return folder
    return "/tmp"


def _private_folder(folder: str) -> None:
    """Make `folder` 0700, or check that the one there is ours and private."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(folder, mode=0o700)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise ControlPathError(f"{folder} is not a folder of this user")
    if info.st_mode & 0o077:
        raise ControlPathError(f"{folder} may be entered by other users")
