"""Read a YAML config into plain data plus a source map (file:line:column of every node).

The file is composed into nodes by ruamel.yaml and turned into dicts, lists and scalars here,
not by a YAML constructor: that way no tag can ever build a Python object (anything but the
standard scalar, sequence and mapping tags is an error), duplicate keys are caught with both
positions, and alias expansion is counted so that a "billion laughs" file fails fast instead of
growing memory. The source map lets every later pass point at the exact place of a problem.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, ReusedAnchorWarning, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from orchestra.config.textfile import read_config_text
from orchestra.config.yaml_budget import MAX_DEPTH, CountingComposer, LoadError
from orchestra.config.yaml_errors import long_key, one_line, reader_error, yaml_error
from orchestra.config.yaml_reset import RESET_TAG, ResetScanner
from orchestra.config.yaml_scalars import scalar_value, with_written_text
from orchestra.errors import ConfigError, Location, Problem

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(_TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp"))
_MAP_TAG = _TAG + "map"
_SEQ_TAG = _TAG + "seq"
_MERGE_TAG = _TAG + "merge"

PathKey = tuple[str | int, ...]


class _Reset:
    """The value of a node tagged `!reset` (the one non-standard tag): a marker, not data,
    that the merge pass (`config/merge.py`) turns into "remove this key", as compose does."""

    def __repr__(self) -> str:
        return RESET_TAG


RESET = _Reset()


class SourceMap:
    """Where each value and each mapping key of a document was written."""

    def __init__(self, file: str) -> None:
        self.file = file
        self._values: dict[PathKey, tuple[int, int]] = {}
        self._keys: dict[PathKey, tuple[int, int]] = {}

    def record(self, path: PathKey, value: Node, key: Node | None = None) -> None:
        self._values.setdefault(path, _mark(value))
        if key is not None:
            self._keys.setdefault(path, _mark(key))

    def locate(self, path: Sequence[str | int]) -> Location:
        """The value at `path`, or its nearest ancestor that exists."""
        return self._find(self._values, tuple(path))

    def locate_key(self, path: Sequence[str | int]) -> Location:
        """The key node naming `path`'s last element (falls back to the value)."""
        key = tuple(path)
        if key in self._keys:
            line, col = self._keys[key]
            return Location(self.file, line, col)
        return self.locate(path)

    def _find(self, table: dict[PathKey, tuple[int, int]], path: PathKey) -> Location:
        while path not in table and path:
            path = path[:-1]
        if path in table:
            line, col = table[path]
            return Location(self.file, line, col)
        return Location(self.file, 1, 1)


@dataclass(frozen=True, slots=True)
class Document:
    data: object
    source: SourceMap


def _mark(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Builder:
    """Turns composed nodes into plain data, recording positions (its size was bounded while
    it was composed, see config/yaml_budget.py)."""

    def __init__(self, source: SourceMap) -> None:
        self.source = source
        self.duplicates: list[LoadError] = []   # all of them are reported, not the first

    def build(self, node: Node, path: PathKey, key: Node | None = None) -> object:
        self.source.record(path, node, key)
        tag = str(node.tag)
        if tag == RESET_TAG:
            return RESET
        if isinstance(node, ScalarNode) and tag in _SCALAR_TAGS:
            _check_text(node)
            try:
                value = scalar_value(str(node.value), tag[len(_TAG):])
                return (with_written_text(value, str(node.value)) if _is_env_value(path)
                        else value)
            except ValueError:
                # Only an explicit tag can get here (`!!int abc`): plain scalars are resolved
                # to a tag by their text. Quietly keeping the text would hide the typo.
                raise LoadError(node, f"invalid {_short_tag(tag)} value "
                                       f"{_quoted(str(node.value))}") from None
        if isinstance(node, SequenceNode) and tag == _SEQ_TAG:
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode) and tag == _MAP_TAG:
            return self._mapping(node, path)
        raise LoadError(node, f"unsupported YAML tag '{_short_tag(tag)}' (only plain "
                               "mappings, lists, strings, numbers, booleans, null and !reset are "
                               "allowed)")

    def _mapping(self, node: MappingNode, path: PathKey) -> dict[str, object]:
        result: dict[str, object] = {}
        first_line: dict[str, int] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if str(key_node.tag) == _MERGE_TAG:
                merges.append(value_node)
                continue
            if not isinstance(key_node, ScalarNode):
                raise LoadError(key_node, "mapping keys must be plain strings")
            _check_text(key_node)
            key = str(key_node.value)
            if key in first_line:
                self.duplicates.append(LoadError(
                    key_node, f"duplicate key {_quoted(key)} (first defined at line "
                              f"{first_line[key]})"))
                continue
            first_line[key] = key_node.start_mark.line + 1
            result[key] = self.build(value_node, (*path, key), key_node)
        # Merged keys come after explicit ones so that positions and values of explicit keys win.
        for merge in merges:
            for key, value in self._merge(merge, path).items():
                result.setdefault(key, value)
        return result

    def _merge(self, node: Node, path: PathKey) -> dict[str, object]:
        """`<<: *base` or `<<: [*a, *b]`: earlier mappings in the list win, explicit keys win."""
        sources = node.value if isinstance(node, SequenceNode) else [node]
        merged: dict[str, object] = {}
        for source in reversed(sources):
            if not isinstance(source, MappingNode):
                raise LoadError(source, "'<<' merges mappings only")
            value = self.build(source, path)
            assert isinstance(value, dict)  # a MappingNode always builds a dict
            merged.update(value)
        return merged


def _is_env_value(path: PathKey) -> bool:
    """A value of the top-level `env` or of a service's: the one place where a number is
    text for a process. Everywhere else (ports, counts) it stays a plain int or float, which
    the exporters' YAML writer and every other consumer expect."""
    return (len(path) == 2 and path[0] == "env") or (
        len(path) == 4 and path[0] == "services" and path[2] == "env")


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag


def _quoted(text: str) -> str:
    """A user's text in a one-line message: quoted, newlines escaped, capped."""
    shown = text if len(text) <= 60 else text[:57] + "..."
    return "'" + shown.replace("\n", "\\n").replace("\r", "\\r") + "'"


def _check_text(node: ScalarNode) -> None:
    """Refuse what no process can be given: a NUL (exec fails on it) or a lone surrogate
    (`"\\ud800"` cannot be encoded, so printing or exec'ing it would raise later)."""
    text = str(node.value)
    if "\0" in text:
        raise LoadError(node, "a string contains a NUL character ('\\0')")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise LoadError(node, "a string contains a lone surrogate escape (e.g. '\\ud800'), "
                               "which is not a character") from None


def load_yaml_text(text: str, file: str) -> Document:
    """Parse YAML text; every failure is a ConfigError with file:line:column."""
    source = SourceMap(file)
    yaml = YAML(typ="safe", pure=True)
    yaml.Composer = CountingComposer   # refuses a huge document while composing it
    yaml.Scanner = ResetScanner        # `{port: !reset}` as `port: !reset` in block style
    # The composer recurses once per level: bounding it here fails fast with a position,
    # instead of after a slow climb to Python's recursion limit.
    yaml.max_depth = MAX_DEPTH + 1
    try:
        with warnings.catch_warnings():
            # A reused anchor is valid YAML (the later one wins); ruamel's multi-line warning
            # on stderr would break the one-line-per-problem output of `orchestra check`.
            warnings.simplefilter("ignore", ReusedAnchorWarning)
            documents = list(yaml.compose_all(io.StringIO(text)))
        if len(documents) > 1:
            second = documents[1]
            raise ConfigError.single(file, "more than one YAML document ('---'); expected one",
                                     line=second.start_mark.line + 1)
        if not documents or documents[0] is None:
            return Document(None, source)
        builder = _Builder(source)
        data = builder.build(documents[0], ())
        if builder.duplicates:
            raise ConfigError([Problem(Location(file, *exc.position()), "", exc.message)
                               for exc in builder.duplicates])
        return Document(data, source)
    except LoadError as exc:
        line, column = exc.position()
        raise ConfigError.single(file, exc.message, line=line, column=column) from None
    except MarkedYAMLError as exc:
        raise long_key(exc, text, file) or yaml_error(exc, file) from None
    except ReaderError as exc:
        raise reader_error(exc, text, file) from None
    except YAMLError as exc:
        raise ConfigError.single(file, f"invalid YAML: {one_line(str(exc))}") from None
    except RecursionError:
        raise ConfigError.single(file, f"nesting deeper than {MAX_DEPTH} levels") from None


def read_text(path: Path) -> str:
    """Read a config file as UTF-8; missing, directory, unreadable or non-UTF-8 are errors."""
    text = read_config_text(str(path))
    if text is None:
        raise ConfigError.single(str(path), "no such file")
    return text


def load_yaml(path: Path) -> Document:
    return load_yaml_text(read_text(path), str(path))
