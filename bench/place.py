"""Where one repeat runs: a fresh project folder and a fresh, empty cache folder.

The headline figures are what a user meets in a fresh clone, a new terminal or
a CI job, so nothing one repeat leaves behind may help the next: every repeat
of every scenario, for every runner alike, gets a project folder and an
`XDG_CACHE_HOME` that did not exist before. A warm repeat reuses the place of
the cold run before it: same folder, same environment, second run.
"""

from __future__ import annotations

import itertools
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from bench.config import LOGS, PLACES

_serial = itertools.count(1)


@dataclass(frozen=True)
class Place:
    """The folders of one repeat, and where the runner's stderr goes."""

    project: Path
    cache: Path
    # Outside the project folder, so the folder holds only what a user's would.
    stderr_log: Path


def slug(scenario: str) -> str:
    """A scenario's name as a folder name, e.g. start-up-k-50."""
    return re.sub(r"[^a-z0-9]+", "-", scenario.lower()).strip("-")


def fresh_place(scenario: str, runner: str) -> Place:
    """New, empty project and cache folders, never used by an earlier run."""
    root = PLACES / f"{slug(scenario)}--{runner}--{next(_serial)}"
    shutil.rmtree(root, ignore_errors=True)  # left by an interrupted earlier bench
    project, cache = root / "project", root / "cache"
    project.mkdir(parents=True)
    cache.mkdir()
    LOGS.mkdir(parents=True, exist_ok=True)
    return Place(project, cache, LOGS / f"{slug(scenario)}--{runner}.txt")


def discard(place: Place) -> None:
    """Remove the repeat's folders once its runs are torn down."""
    shutil.rmtree(place.project.parent, ignore_errors=True)


def clear_places() -> None:
    """Remove what an interrupted earlier bench left behind."""
    shutil.rmtree(PLACES, ignore_errors=True)
