"""The JSON Schema shipped in the package (and usable by editors), read once."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SCHEMA_FILE = "orchestra.schema.json"


@functools.cache
def load_schema() -> Mapping[str, Any]:
    """The schema shipped in the package, parsed once on first use."""
    text = (Path(__file__).parent / SCHEMA_FILE).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
