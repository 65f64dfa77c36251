"""Hostile input never escapes as anything but the documented error, and never hangs.

A traceback from `orchestra check` on a mangled Procfile or `.env` is a bug: the CLI can only
present `ConfigError` (and interpolation's `InterpolationError`) nicely.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestra.config.envfiles import read_env_file
from orchestra.config.interpolate import InterpolationError, interpolate
from orchestra.config.procfile import ProcfileEntry, read_procfile
from orchestra.errors import ConfigError

FUZZ = settings(deadline=None, max_examples=300,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

# Text made mostly of the characters the parsers care about, so examples hit real branches
# instead of being rejected on the first byte.
_SYNTAX = st.lists(
    st.sampled_from([*"ab_Z09 \t\r\n#:=-?'\"\\${}.\x00\ufeffé", "export ", "web: "]),
    max_size=300,
).map("".join)
_FILE_BYTES = st.one_of(
    st.binary(max_size=1000),
    _SYNTAX.map(lambda text: text.encode("utf-8")),
)
_INTERPOLATION_TEXT = st.lists(
    st.sampled_from([*"AB_1 x:-?${}", "${", "$$", ":-", ":?", "}"]),
    max_size=200,
).map("".join)
_LOOKUP = st.dictionaries(st.sampled_from(["A", "B", "_", "x"]),
                          st.text(alphabet="ab$}{", max_size=5))


@pytest.mark.timeout(300)
@FUZZ
@given(data=_FILE_BYTES)
def test_procfile_bytes_give_entries_or_config_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "Procfile"
    path.write_bytes(data)
    try:
        entries = read_procfile(path)
    except ConfigError as error:
        assert error.problems
        return
    assert entries
    line_count = len(re.split(rb"\r\n|\r|\n", data))   # a lone CR ends a line too
    for entry in entries:
        assert isinstance(entry, ProcfileEntry)
        assert 1 <= entry.line <= line_count
        assert entry.command.strip()
        assert "\r" not in entry.command
    assert len({e.name for e in entries}) == len(entries)


@pytest.mark.timeout(300)
@FUZZ
@given(data=_FILE_BYTES, required=st.booleans())
def test_env_file_bytes_give_values_or_config_error(tmp_path: Path, data: bytes,
                                                    required: bool) -> None:
    path = tmp_path / ".env"
    path.write_bytes(data)
    try:
        env = read_env_file(path, required=required)
    except ConfigError as error:
        assert error.problems
        return
    assert set(env.values) == set(env.lines)
    line_count = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").count(b"\n") + 1
    for key, value in env.values.items():
        assert key and "=" not in key and "\0" not in key   # what an environment can carry
        assert "\0" not in value
        assert 1 <= env.lines[key] <= line_count


@pytest.mark.timeout(300)
@FUZZ
@given(text=st.one_of(_INTERPOLATION_TEXT, st.text(max_size=200)), lookup=_LOOKUP)
def test_interpolate_raises_only_interpolation_error(text: str, lookup: dict[str, str]) -> None:
    try:
        result = interpolate(text, lookup)
    except InterpolationError as error:
        assert error.message
        return
    assert isinstance(result, str)


@pytest.mark.timeout(300)
@FUZZ
@given(text=st.text(max_size=300).map(lambda t: t.replace("$", "")), lookup=_LOOKUP)
def test_text_without_dollar_is_unchanged(text: str, lookup: dict[str, str]) -> None:
    assert interpolate(text, lookup) == text


@pytest.mark.timeout(300)
@FUZZ
@given(text=st.one_of(_INTERPOLATION_TEXT, st.text(max_size=200)), lookup=_LOOKUP)
def test_escaped_dollars_come_back_literally(text: str, lookup: dict[str, str]) -> None:
    """`$$` is the escape for `$`, so escaping every `$` must reproduce the text exactly."""
    assert interpolate(text.replace("$", "$$"), lookup) == text
