"""The records around the model are NamedTuples that behave as values of their own kind
(`orchestra/records.py`): equal, and hashed, only with their own kind, and immutable."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

import pytest

from orchestra.config.model import Service, SourceKind, Spec
from orchestra.errors import Location, Problem
from orchestra.plan import Instance, Plan, Selection
from orchestra.runtime.exit_status import ExitStatus
from orchestra.runtime.facts import Facts

WEB = Service(name="web", argv=("web",), shell=False, dir=Path("/srv"), run_dir=Path("/srv"))
SPEC = Spec(Path("/srv/Procfile"), SourceKind.PROCFILE, Path("/srv"), (WEB,))
INSTANCE = Instance("web.1", WEB, 1, None)

#: Hashable ones; a record holding a read-only mapping (an env, a formation) is not, as the
#: frozen dataclasses they were were not.
HASHABLE = [
    Location("Procfile", 3, 1),
    Problem(Location("Procfile", 3, 1), "web", "blank command"),
    ExitStatus(143, 15),
    Facts(),
]
RECORDS = [*HASHABLE, Selection(services=("web",)), INSTANCE, Plan(SPEC, ("web",), (INSTANCE,))]


@pytest.mark.parametrize("record", RECORDS, ids=lambda record: type(record).__name__)
def test_a_record_is_a_value_of_its_own_kind(record: tuple[object, ...]) -> None:
    kind = type(record)
    assert record == kind(*record)                      # equal to the same values, same kind
    assert record != tuple(record)                      # not to a bare tuple of them
    assert (record == tuple(record)) is False
    assert bool(record)
    with pytest.raises(AttributeError):
        record._fields[0] and setattr(record, record._fields[0], None)  # type: ignore[attr-defined]


@pytest.mark.parametrize("record", HASHABLE, ids=lambda record: type(record).__name__)
def test_a_record_hashes_with_its_kind(record: tuple[object, ...]) -> None:
    assert hash(record) == hash(type(record)(*record))
    assert len({record, tuple(record)}) == 2


def test_records_of_two_kinds_with_the_same_values_differ() -> None:
    assert Location("a", 1, 2) != ExitStatus("a", 1)  # type: ignore[arg-type]
    assert Selection() != Selection(formation=MappingProxyType({"web": 2}))
    assert Instance("web.1", WEB, 1, None).env == {}   # the shared empty default is read-only
    with pytest.raises(TypeError):
        Instance("web.1", WEB, 1, None).env["X"] = "1"  # type: ignore[index]
