"""Reading a config file as text: every way it can fail becomes a ConfigError with a place.

Shared by the Procfile, `.env` and YAML readers, so that a missing file, a directory, a FIFO,
an unreadable file or a non-UTF-8 byte reads the same whatever the file is for.
"""

from __future__ import annotations

import os
import stat

from orchestra.errors import ConfigError

_EXCERPT_LIMIT = 60

MAX_CONFIG_BYTES = 1024 * 1024
"""The largest config, Procfile or .env file read. Real ones are a few kilobytes; the YAML
parser composes a few hundred kilobytes a second, so a bigger file is refused before it is
parsed (or even read whole) rather than after a minute of parsing."""


def _read_bounded(path: str, file: str) -> bytes:
    """The file's bytes, or a ConfigError naming the limit; reads at most one byte past it
    (the size on disk is not trusted: the file may grow while it is read)."""
    with open(path, "rb") as handle:
        data = handle.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError.single(file, f"larger than {MAX_CONFIG_BYTES // 1024 // 1024} MiB, "
                                       "the limit for a config file; refusing to read it")
    return data


def read_config_text(path: str | os.PathLike[str]) -> str | None:
    """Return the UTF-8 text of a config file, or None when it does not exist.

    None rather than an error because whether a missing file matters is the caller's call
    (a Procfile must exist, an optional `.env` need not). Everything else that would otherwise be
    an OSError or UnicodeDecodeError traceback becomes a `ConfigError` locating the problem.
    Special files are refused before opening: reading a FIFO would block forever.
    """
    file = path = os.fspath(path)
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            raise ConfigError.single(file, "is a directory, not a file")
        if not stat.S_ISREG(mode):
            raise ConfigError.single(file, "is not a regular file")
        data = _read_bounded(path, file)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as error:
        raise ConfigError.single(file, f"cannot read: {error.strerror or error}") from None
    except ValueError as error:  # e.g. an embedded NUL byte in the path
        raise ConfigError.single(file, f"cannot read: {error}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        before = data[: error.start]
        line = before.count(b"\n") + 1
        column = error.start - (before.rfind(b"\n") + 1) + 1
        raise ConfigError.single(file, f"not valid UTF-8 (byte 0x{data[error.start]:02x})",
                                 line=line, column=column) from None
    return text.removeprefix("\ufeff")


def excerpt(text: str) -> str:
    """Quote user text for a message: shortened, with control characters escaped.

    Escaping keeps a stray terminal escape sequence in a config file from garbling the output.
    """
    if len(text) > _EXCERPT_LIMIT:
        text = text[: _EXCERPT_LIMIT - 3] + "..."
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return f"'{shown}'"
