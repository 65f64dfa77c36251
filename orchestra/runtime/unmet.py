"""Whether instances can run again: a dependency that ended without meeting its condition.

A runner started again waits for its dependencies' conditions; one whose dependency has
already ended without meeting it (stopped with `orchestra stop`, most often) is skipped, and
a skipped service stops the whole stack. So `orchestra restart`, the tui's start key and a
`watch:` restart ask here first, and decline with the reason rather than end the stack.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchestra.runtime.service import ServiceRunner


@dataclass(frozen=True, slots=True)
class UnmetDependency:
    """`service` needs `dependency` (`condition`), which has ended in `state`."""

    service: str
    dependency: str
    condition: str
    state: str

    def describe(self) -> str:
        return (f"{self.service} needs {self.dependency} (condition {self.condition}), which "
                f"has {self.state}")


def unmet_dependency(runners: Mapping[str, ServiceRunner],
                     names: Sequence[str]) -> UnmetDependency | None:
    """The first dependency of the instances `names` that has ended without meeting its
    condition and is not among `names` itself (then it runs again with them), or None."""
    for name in names:
        for condition, dependencies in runners[name].dependencies:
            for dependency in dependencies:
                if dependency.name in names or dependency.satisfies(condition) is not False:
                    continue
                return UnmetDependency(runners[name].instance.service.name,
                                       dependency.instance.service.name, condition.value,
                                       dependency.state.value)
    return None
