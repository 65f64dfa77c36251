"""Read a YAML config into plain data plus a source map (file:line:column of every node).

The file is composed into nodes by ruamel.yaml and turned into dicts, lists and scalars here,
not by a YAML constructor: that way no tag can ever build a Python object (anything but the
standard scalar, sequence and mapping tags is an error), duplicate keys are caught with both
positions, and alias expansion is counted so that a "billion laughs" file fails fast instead of
growing memory. The source map lets every later pass point at the exact place of a problem.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from orchestra.errors import ConfigError, Location, Problem

#: Nodes a document may expand to through aliases; real configs are orders of magnitude smaller.
MAX_EXPANDED_NODES = 100_000
#: Nesting depth; deeper documents are certainly not configs (and would exhaust the stack).
MAX_DEPTH = 64

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(_TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp"))
_MAP_TAG = _TAG + "map"
_SEQ_TAG = _TAG + "seq"
_MERGE_TAG = _TAG + "merge"

PathKey = tuple[str | int, ...]


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


class _LoadError(Exception):
    def __init__(self, node: Node | None, message: str) -> None:
        super().__init__(message)
        self.node = node
        self.message = message


class _Builder:
    """Turns composed nodes into plain data, recording positions and counting expansion."""

    def __init__(self, source: SourceMap) -> None:
        self.source = source
        self.expanded = 0

    def build(self, node: Node, path: PathKey, key: Node | None = None) -> object:
        self.expanded += 1
        if self.expanded > MAX_EXPANDED_NODES:
            raise _LoadError(node, f"the document expands to more than {MAX_EXPANDED_NODES} "
                                   "nodes through aliases; refusing to load it")
        if len(path) > MAX_DEPTH:
            raise _LoadError(node, f"nesting deeper than {MAX_DEPTH} levels")
        self.source.record(path, node, key)
        tag = str(node.tag)
        if isinstance(node, ScalarNode) and tag in _SCALAR_TAGS:
            return _scalar(node, tag)
        if isinstance(node, SequenceNode) and tag == _SEQ_TAG:
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode) and tag == _MAP_TAG:
            return self._mapping(node, path)
        raise _LoadError(node, f"unsupported YAML tag '{_short_tag(tag)}' (only plain "
                               "mappings, lists, strings, numbers, booleans and null are allowed)")

    def _mapping(self, node: MappingNode, path: PathKey) -> dict[str, object]:
        result: dict[str, object] = {}
        first_line: dict[str, int] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if str(key_node.tag) == _MERGE_TAG:
                merges.append(value_node)
                continue
            if not isinstance(key_node, ScalarNode):
                raise _LoadError(key_node, "mapping keys must be plain strings")
            key = str(key_node.value)
            if key in first_line:
                raise _LoadError(key_node, f"duplicate key '{key}' "
                                           f"(first defined at line {first_line[key]})")
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
                raise _LoadError(source, "'<<' merges mappings only")
            value = self.build(source, path)
            assert isinstance(value, dict)  # a MappingNode always builds a dict
            merged.update(value)
        return merged


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag


def _scalar(node: ScalarNode, tag: str) -> object:
    text = str(node.value)
    kind = tag[len(_TAG):]
    if kind == "null":
        return None
    if kind == "bool":
        return text.lower() == "true"
    if kind == "int":
        return _int(text)
    if kind == "float":
        return _float(text)
    return text  # str, and timestamps kept as written


def _int(text: str) -> object:
    try:
        return int(text, 0)
    except ValueError:
        try:
            return int(text, 10)
        except ValueError:
            return text


def _float(text: str) -> object:
    lowered = text.lower()
    if lowered in (".inf", "+.inf"):
        return math.inf
    if lowered == "-.inf":
        return -math.inf
    if lowered == ".nan":
        return math.nan
    try:
        return float(text)
    except ValueError:
        return text


def _decode(raw: bytes, file: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError.single(file, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
                                 line=line, column=column) from None


def load_yaml_text(text: str, file: str) -> Document:
    """Parse YAML text; every failure is a ConfigError with file:line:column."""
    source = SourceMap(file)
    yaml = YAML(typ="safe", pure=True)
    try:
        documents = list(yaml.compose_all(io.StringIO(text)))
        if len(documents) > 1:
            second = documents[1]
            raise ConfigError.single(file, "more than one YAML document ('---'); expected one",
                                     line=second.start_mark.line + 1)
        if not documents or documents[0] is None:
            return Document(None, source)
        return Document(_Builder(source).build(documents[0], ()), source)
    except _LoadError as exc:
        line, column = _mark(exc.node) if exc.node is not None else (None, None)
        raise ConfigError.single(file, exc.message, line=line, column=column) from None
    except MarkedYAMLError as exc:
        raise _yaml_error(exc, file) from None
    except YAMLError as exc:
        raise ConfigError.single(file, f"invalid YAML: {exc}") from None
    except RecursionError:
        raise ConfigError.single(file, f"nesting deeper than {MAX_DEPTH} levels") from None


def _yaml_error(exc: MarkedYAMLError, file: str) -> ConfigError:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "invalid YAML"
    message = f"invalid YAML: {problem}"
    if exc.context and exc.problem:
        message += f" ({exc.context}"
        if exc.context_mark is not None and mark is not exc.context_mark:
            message += f" at line {exc.context_mark.line + 1}"
        message += ")"
    if mark is None:
        return ConfigError.single(file, message)
    return ConfigError.single(file, message, line=mark.line + 1, column=mark.column + 1)


def read_text(path: Path) -> str:
    """Read a config file as UTF-8; missing, directory, unreadable or non-UTF-8 are errors."""
    file = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError.single(file, "no such file") from None
    except IsADirectoryError:
        raise ConfigError.single(file, "is a directory, not a config file") from None
    except OSError as exc:
        raise ConfigError.single(file, f"cannot read: {exc.strerror}") from None
    return _decode(raw, file)


def load_yaml(path: Path) -> Document:
    return load_yaml_text(read_text(path), str(path))
