"""How a process ended, as a shell reports it: plain data, shared by the machine and the shell."""

# Annotations are evaluated here, not kept as strings: see orchestra/records.py.

from typing import NamedTuple

from orchestra.config.values import signal_name
from orchestra.records import own_kind_only


class ExitStatus(NamedTuple):
    """How a process ended, as a shell reports it (128+N for signal N) and by which signal.

    A NamedTuple equal only to its own kind (`orchestra/records.py`)."""

    code: int                    # 0-255, 128+N when killed by signal N (never negative)
    signal: int | None           # the signal number that killed it, any signal (SIGRTMIN+6 too)

    @property
    def signal_name(self) -> str | None:
        return None if self.signal is None else signal_name(self.signal)

    def describe(self) -> str:
        if self.signal is not None:
            return f"killed by {self.signal_name} (rc={self.code})"
        return f"exited rc={self.code}"

    def describe_flat(self) -> str:
        """`describe` without brackets, to be put in brackets itself: a failure line reads
        in one level (`failed: not ready: ... (killed by SIGTERM, rc=143)`)."""
        if self.signal is not None:
            return f"killed by {self.signal_name}, rc={self.code}"
        return f"exited rc={self.code}"


own_kind_only(ExitStatus)
