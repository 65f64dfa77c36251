"""NamedTuple records that compare only as values of their own kind.

The records around the model (the state machine's events, actions and facts, the plan, an exit
status, a place in a file and a problem found there) are NamedTuples rather than frozen
dataclasses for the cost of a start: Python 3.11 compiles six methods for every frozen
dataclass as its module is imported (~0.4–1.2 ms a class), a NamedTuple one (~0.06 ms), and
these records are on the way to every run's first line (docs/PERFORMANCE.md).

A plain tuple would be a poor value, though: `Spawned(7) == SignalRequested(7)`, a record equal
to a bare tuple of its fields, and a record without fields false. `own_kind_only` gives back
what a dataclass had: each kind is equal only to its own kind, hashes with it, and is true.

The modules that define NamedTuples on that path do without `from __future__ import
annotations`: `typing.NamedTuple` turns an annotation kept as a string into a ForwardRef,
compiling the string, ~5 µs a field (~1 ms of every start over the few hundred fields).
Names they can only name in quotes (a class defined further down, an import made for the
type checker only) are written in quotes.
"""

from __future__ import annotations


def own_kind_only(*kinds: type) -> None:
    """Make each NamedTuple kind in `kinds` compare, hash and test true as a value of its own
    kind (see above)."""
    for kind in kinds:
        for name, method in (("__eq__", _equal), ("__ne__", _not_equal), ("__hash__", _hashed),
                             ("__bool__", _true)):
            setattr(kind, name, method)


def _equal(self: tuple[object, ...], other: object) -> bool:
    return type(self) is type(other) and tuple.__eq__(self, other) is True


def _not_equal(self: tuple[object, ...], other: object) -> bool:
    return not _equal(self, other)


def _hashed(self: tuple[object, ...]) -> int:
    return hash((type(self).__name__, tuple.__hash__(self)))


def _true(self: object) -> bool:
    return True
