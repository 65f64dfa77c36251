"""Every format's files for examples/quickstart, as text: a change to any exported file shows
up here (and in docs/EXPORT.md, which shows these files)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.export import export

from orchestra.cli.export import FORMAT_NAMES
from orchestra.export import FORMATS

ROOT = Path(__file__).parent.parent
GOLDEN = Path(__file__).parent / "golden" / "export"
OPTIONS = {"compose": ("--image", "registry.example/quickstart:1"),
           "kubernetes": ("--image", "registry.example/quickstart:1")}


@pytest.mark.parametrize("format_name", FORMATS)
def test_quickstart_export_matches_golden_files(tmp_path: Path, format_name: str) -> None:
    out = tmp_path / format_name
    export(ROOT / "examples" / "quickstart", format_name, out, "-a", "quickstart",
           "--root", "/srv/quickstart", *OPTIONS.get(format_name, ()))
    expected = GOLDEN / format_name
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in expected.iterdir())
    for path in sorted(out.iterdir()):
        assert path.read_text() == (expected / path.name).read_text(), path.name


def test_the_cli_knows_every_format() -> None:
    assert FORMAT_NAMES == FORMATS


def test_docs_show_the_golden_files() -> None:
    """docs/EXPORT.md shows each quickstart file as it is exported today."""
    doc = (ROOT / "docs" / "EXPORT.md").read_text()
    for path in sorted(GOLDEN.rglob("*.*")):
        assert f"`{path.name}`:\n\n```" in doc and path.read_text() in doc, path
