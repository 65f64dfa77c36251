"""From a model to what will run: the plan, pure data, in three steps.

`plan/selection.py` decides which services run and orders them with graphlib so the runtime
can start them in dependency order; `plan/instances.py` expands them into instances with
their `PORT` and environment; `plan/dependents.py` answers the questions that go against the
start order (the waves in which to stop, what a restart takes along). The names other modules
use are importable from here.
"""

# Annotations are evaluated here, not kept as strings: see orchestra/records.py.

from collections.abc import Mapping
from typing import NamedTuple

from orchestra.config.model import Spec
from orchestra.plan.dependents import dependents, restart_with_dependents, stop_waves
from orchestra.plan.instances import DEFAULT_BASE_PORT, Instance, base_port, make_instances
from orchestra.plan.selection import (
    MAX_INSTANCES,
    Selection,
    check_profiles,
    parse_formation,
    selected_order,
)
from orchestra.records import own_kind_only

__all__ = [
    "DEFAULT_BASE_PORT",
    "MAX_INSTANCES",
    "Instance",
    "Plan",
    "Selection",
    "check_profiles",
    "make_plan",
    "parse_formation",
    "restart_with_dependents",
    "stop_waves",
]


class Plan(NamedTuple):
    """What `up` will start: the selected services in order and their instances. Like
    `Instance` and `Selection`, a NamedTuple equal only to its own kind
    (`orchestra/records.py`): derived from the model, not part of it."""

    spec: Spec
    order: tuple[str, ...]                     # selected service names, dependencies first
    instances: tuple[Instance, ...]            # in start order

    def dependents(self) -> dict[str, set[str]]:
        """service name → the selected services that depend on it, directly or not."""
        return dependents(self)


own_kind_only(Plan)


def make_plan(spec: Spec, selection: Selection, environ: Mapping[str, str]) -> Plan:
    """The plan for `selection`; raises UsageError when it does not fit the spec."""
    order = selected_order(spec, selection)
    base = base_port(spec, selection.base_port, environ)
    return Plan(spec, order, make_instances(spec, order, selection.formation, base))
