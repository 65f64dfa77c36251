"""orchestra/pathnames.py writes and joins paths exactly as pathlib does, so that paths kept
as `str` on the way to the first line read as they did as `Path`s."""

from __future__ import annotations

from pathlib import PurePosixPath

from hypothesis import given
from hypothesis import strategies as st

from orchestra.pathnames import clean, join, suffix

#: Path text made of the pieces that matter: separators, `.` and `..`, dots in names.
PATHS = st.lists(st.sampled_from(["/", "//", ".", "..", "a", "b.c", ".env", "x.tar.gz", "d.",
                                  "Procfile", "orchestra.YAML", " "]),
                 max_size=8).map("".join)


@given(PATHS)
def test_clean_writes_a_path_as_pathlib_does(text: str) -> None:
    assert clean(text) == str(PurePosixPath(text))


@given(PATHS, PATHS)
def test_join_joins_as_pathlib_does(base: str, name: str) -> None:
    assert join(base, name) == str(PurePosixPath(base) / name)


@given(PATHS)
def test_suffix_is_pathlibs(text: str) -> None:
    assert suffix(text) == PurePosixPath(text).suffix


def test_the_cases_users_type() -> None:
    assert join("/project", "./Procfile") == "/project/Procfile"
    assert join("/project", "sub//Procfile") == "/project/sub/Procfile"
    assert join("/project", "../other/Procfile") == "/project/../other/Procfile"   # kept
    assert join("/project", "/etc/Procfile") == "/etc/Procfile"
    assert clean("./sub/") == "sub"
    assert suffix("/p/orchestra.override.yml") == ".yml"
