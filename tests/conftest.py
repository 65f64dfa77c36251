"""Fixtures shared by the tests that run orchestra as a real process."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.orch import Project, kill_leftovers


@pytest.fixture(autouse=True, scope="session")
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """$XDG_CACHE_HOME of the test run's own: whatever a test or a service might write
    there lands in a temporary folder, never in the user's cache."""
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if previous is None:
        del os.environ["XDG_CACHE_HOME"]
    else:
        os.environ["XDG_CACHE_HOME"] = previous


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


@pytest.fixture
def runtime() -> Iterator[Path]:
    """A private XDG_RUNTIME_DIR (for control sockets) short enough for socket paths."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="orch-rt-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
