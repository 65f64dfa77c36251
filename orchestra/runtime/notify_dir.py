"""The run's private folder for `notify` readiness sockets, made on first use.

One 0700 folder per run (`tempfile.mkdtemp`), told to the lifeline so that a SIGKILLed
orchestra leaves no folder behind; removed (and withdrawn from the lifeline) at the end.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping

from orchestra.pathnames import join
from orchestra.runtime.lifeline import Lifeline

#: The longest folder a notify socket's directory may be made in (sun_path: 107 bytes).
MAX_SOCKET_BASE = 64


class NotifyFolder:
    def __init__(self, environ: Mapping[str, str], lifeline: Lifeline) -> None:
        self.environ = environ
        self.lifeline = lifeline
        self.path: str | None = None
        self._numbers = itertools.count(1)

    def socket_path(self, name: str) -> str:
        """A fresh socket path in this run's private (0700) directory, made on first use."""
        if self.path is None:
            import tempfile

            # A socket path holds at most 107 bytes: the first folder short enough for
            # "/orchestra-XXXXXXXX/notify-NNNN.sock" to fit in it.
            candidates = [c for c in (self.environ.get("XDG_RUNTIME_DIR"),
                                      tempfile.gettempdir(), "/tmp")
                          if c and os.path.isabs(c)   # a relative one: as control/paths.py
                          and len(os.fsencode(c)) <= MAX_SOCKET_BASE and os.path.isdir(c)]
            for base in candidates:   # the first one we may create a folder in
                try:
                    self.path = tempfile.mkdtemp(prefix="orchestra-", dir=base)
                    self.lifeline.remove_on_death(self.path)
                    break
                except OSError:
                    continue
            else:
                raise OSError(f"no folder for notify sockets among {', '.join(candidates)}")
        return join(self.path, f"notify-{next(self._numbers)}.sock")

    def remove(self) -> None:
        if self.path is not None:
            import shutil

            shutil.rmtree(self.path, ignore_errors=True)
            self.lifeline.folder_removed()
