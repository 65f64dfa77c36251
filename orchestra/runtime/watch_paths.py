"""Which changed file concerns which watching service: a pure function of paths and patterns.

A service's `watch` covers each of its paths and everything below them, except what its
ignore patterns (and `DEFAULT_WATCH_IGNORE`) match:

- a pattern without `/` (`*.log`, `tmp`, `node_modules`) matches the name of the changed file
  or of any folder between the watched path and it;
- a pattern with `/` (`build/*`, `docs/`) matches the changed path relative to the service's
  `dir`, or a folder on the way there (so `docs/` ignores everything under docs).

Names above the watched path do not count: a project that lives under a folder called `tmp`
can still ignore `tmp` inside it, and `watch: [node_modules/mylib]` watches what it names.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path, PurePosixPath

from orchestra.config.model_parts import DEFAULT_WATCH_IGNORE, Watch


def concerns(watch: Watch, directory: Path, changed: Path) -> bool:
    """Whether a change of `changed` (absolute) should act on the service watching `watch`."""
    for root in watch.paths:
        if changed != root and root not in changed.parents:
            continue
        names = changed.relative_to(root).parts or (changed.name,)
        if not _ignored(names, watch.ignore, _relative(changed, directory)):
            return True
    return False


def _ignored(names: tuple[str, ...], ignore: tuple[str, ...], relative: str | None) -> bool:
    for pattern in (*DEFAULT_WATCH_IGNORE, *ignore):
        if "/" not in pattern.rstrip("/"):
            bare = pattern.rstrip("/")
            if any(fnmatch.fnmatchcase(name, bare) for name in names):
                return True
        elif relative is not None and _matches_path(relative, pattern):
            return True
    return False


def _matches_path(relative: str, pattern: str) -> bool:
    """`pattern` matches the path or one of the folders leading to it."""
    pattern = pattern.removeprefix("./").strip("/")
    path = PurePosixPath(relative)
    candidates = [path, *list(path.parents)[:-1]]   # without "."
    return any(fnmatch.fnmatchcase(str(candidate), pattern) for candidate in candidates)


def _relative(changed: Path, directory: Path) -> str | None:
    """`changed` relative to the service's dir, in `/` form; None if it lies outside."""
    try:
        return changed.relative_to(directory).as_posix()
    except ValueError:
        return None


def shown(paths: list[Path], directory: Path) -> list[str]:
    """The paths as the user wrote them: relative to the service's dir where they can be."""
    return sorted(_relative(p, directory) or str(p) for p in paths)


def describe(paths: list[Path], directory: Path) -> str:
    """`src/app.py`, or `src/app.py and 2 more`: what changed, for a status line."""
    shown_paths = shown(paths, directory)
    if not shown_paths:
        return "files"
    more = f" and {len(shown_paths) - 1} more" if len(shown_paths) > 1 else ""
    return shown_paths[0] + more


def watch_roots(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """What to watch for the union of every service's paths: the folders, recursively (each
    once, none inside another), and the folders of the files outside them, on their own.

    A file is watched through its folder: an editor that saves by writing a new file and
    renaming it over the old one replaces the inode, and a watch on the file itself would
    end with that first save.
    """
    folders: list[Path] = []
    for path in sorted({p for p in paths if p.is_dir()}, key=lambda p: len(p.parts)):
        if not _inside(path, folders):
            folders.append(path)
    parents = sorted({p.parent for p in single_files(paths, folders)})
    return folders, parents


def single_files(paths: list[Path], folders: list[Path]) -> list[Path]:
    """The watched paths that are no folder and lie outside the watched `folders`: each is
    watched through its own folder (see `watch_roots`)."""
    return sorted({p for p in paths if not p.is_dir() and not _inside(p, folders)})


def _inside(path: Path, folders: list[Path]) -> bool:
    return any(folder == path or folder in path.parents for folder in folders)


def holding_folders(holders: list[Path]) -> list[Path]:
    """Each holder, or, while it is missing, the nearest folder above it that exists."""
    existing = set()
    for holder in holders:
        while not holder.is_dir() and holder.parent != holder:
            holder = holder.parent
        existing.add(holder)
    return sorted(existing)


def on_the_way(changed: Path, points: list[Path]) -> bool:
    """Whether `changed` is one of these folders or a folder above one: its deletion or
    re-creation changes what can be watched."""
    return any(changed == point or changed in point.parents for point in points)
