"""Whether instances can run again: a dependency that ended without meeting its condition.

A runner started again waits for its dependencies' conditions; one whose dependency has
ended without meeting it is skipped, and a skipped service stops the whole stack; one whose
dependency was stopped with `orchestra stop` waits until that is started again. So
`orchestra restart`, the tui's start key and a `watch:` restart ask here first, and decline
with the reason rather than end the stack or leave the service down, waiting.
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
                if dependency.name in names:
                    continue
                # stopped on request, its dependents would wait for it ("not yet"): a restart
                # asked for now would take them down to wait, so it is declined as well
                stopped = dependency.final and dependency.facts.stopped_on_request
                if not stopped and dependency.satisfies(condition) is not False:
                    continue
                return UnmetDependency(runners[name].instance.service.name,
                                       dependency.instance.service.name, condition.value,
                                       "been stopped" if stopped else dependency.state.value)
    return None
