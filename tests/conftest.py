"""Fixtures for the `orchestra up` integration tests (tests/test_up_*.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.orch import Project, kill_leftovers


@pytest.fixture
def mark() -> Iterator[str]:
    """A marker put in orchestra's environment; whatever still carries it at teardown dies."""
    value = uuid.uuid4().hex
    yield value
    kill_leftovers(value)


@pytest.fixture
def project(tmp_path: Path, mark: str) -> Iterator[Project]:
    proj = Project(tmp_path, mark)
    yield proj
    proj.close()
    kill_leftovers(mark)
