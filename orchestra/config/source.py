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
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, ReusedAnchorWarning, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from orchestra.config.textfile import read_config_text
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
RESET_TAG = "!reset"

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


class _LoadError(Exception):
    def __init__(self, node: Node | None, message: str) -> None:
        super().__init__(message)
        self.node = node
        self.message = message


class _Measure:
    """Sizes a composed document as if every alias were expanded, without expanding anything.

    The composer shares one node per anchor, so a "billion laughs" file is small as nodes but
    huge as data. Sizes are memoised per node, so even that file is measured in a few steps and
    refused before a single list is built; an alias inside its own anchor is found on the way
    (expanding it would never end).
    """

    def __init__(self) -> None:
        self.sizes: dict[int, int] = {}
        self.open: set[int] = set()

    def size(self, node: Node, depth: int = 0) -> int:
        known = self.sizes.get(id(node))
        if known is not None:
            return known
        if id(node) in self.open:
            name = f" '&{node.anchor}'" if getattr(node, "anchor", None) else ""
            raise _LoadError(node, f"recursive alias: the anchor{name} contains an alias to "
                                   "itself")
        if depth > MAX_DEPTH:
            raise _LoadError(node, f"nesting deeper than {MAX_DEPTH} levels")
        self.open.add(id(node))
        total = 1 + sum(self.size(child, depth + 1) for child in _children(node))
        self.open.discard(id(node))
        if total > MAX_EXPANDED_NODES:
            raise _LoadError(node, f"the document expands to more than {MAX_EXPANDED_NODES} "
                                   "nodes through aliases; refusing to load it")
        self.sizes[id(node)] = total
        return total


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [value for _, value in node.value]
    return []


class _Builder:
    """Turns composed nodes into plain data, recording positions (run after `_Measure`)."""

    def __init__(self, source: SourceMap) -> None:
        self.source = source
        self.duplicates: list[_LoadError] = []   # all of them are reported, not the first

    def build(self, node: Node, path: PathKey, key: Node | None = None) -> object:
        self.source.record(path, node, key)
        tag = str(node.tag)
        if tag == RESET_TAG:
            return RESET
        if isinstance(node, ScalarNode) and tag in _SCALAR_TAGS:
            _check_text(node)
            try:
                return _scalar(node, tag)
            except ValueError:
                # Only an explicit tag can get here (`!!int abc`): plain scalars are resolved
                # to a tag by their text. Quietly keeping the text would hide the typo.
                raise _LoadError(node, f"invalid {_short_tag(tag)} value "
                                       f"{_quoted(str(node.value))}") from None
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
            _check_text(key_node)
            key = str(key_node.value)
            if key in first_line:
                self.duplicates.append(_LoadError(
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
                raise _LoadError(source, "'<<' merges mappings only")
            value = self.build(source, path)
            assert isinstance(value, dict)  # a MappingNode always builds a dict
            merged.update(value)
        return merged


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
        raise _LoadError(node, "a string contains a NUL character ('\\0')")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _LoadError(node, "a string contains a lone surrogate escape (e.g. '\\ud800'), "
                               "which is not a character") from None


def _scalar(node: ScalarNode, tag: str) -> object:
    """The value of a scalar; ValueError when an explicit tag does not fit the text."""
    text = str(node.value)
    kind = tag[len(_TAG):]
    if kind == "null":
        if text not in ("", "~", "null", "Null", "NULL"):
            raise ValueError(text)
        return None
    if kind == "bool":
        if text.lower() not in ("true", "false"):
            raise ValueError(text)
        return text.lower() == "true"
    if kind == "int":
        return _int(text)
    if kind == "float":
        return _float(text)
    return text  # str, and timestamps kept as written


def _int(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        return int(text, 10)  # YAML 1.2 reads `017` as 17, where Python's base 0 refuses it


def _float(text: str) -> float:
    lowered = text.lower()
    if lowered in (".inf", "+.inf"):
        return math.inf
    if lowered == "-.inf":
        return -math.inf
    if lowered == ".nan":
        return math.nan
    return float(text)


def load_yaml_text(text: str, file: str) -> Document:
    """Parse YAML text; every failure is a ConfigError with file:line:column."""
    source = SourceMap(file)
    yaml = YAML(typ="safe", pure=True)
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
        _Measure().size(documents[0])
        builder = _Builder(source)
        data = builder.build(documents[0], ())
        if builder.duplicates:
            raise ConfigError([Problem(Location(file, *_mark(exc.node)), "", exc.message)
                               for exc in builder.duplicates if exc.node is not None])
        return Document(data, source)
    except _LoadError as exc:
        line, column = _mark(exc.node) if exc.node is not None else (None, None)
        raise ConfigError.single(file, exc.message, line=line, column=column) from None
    except MarkedYAMLError as exc:
        raise _yaml_error(exc, file) from None
    except ReaderError as exc:
        raise _reader_error(exc, text, file) from None
    except YAMLError as exc:
        raise ConfigError.single(file, f"invalid YAML: {_one_line(str(exc))}") from None
    except RecursionError:
        raise ConfigError.single(file, f"nesting deeper than {MAX_DEPTH} levels") from None


def _one_line(text: str) -> str:
    """The CLI prints one line per problem; a parser message spanning lines would break that."""
    return " ".join(text.split())


def _reader_error(exc: ReaderError, text: str, file: str) -> ConfigError:
    """A character YAML forbids (NUL, most control characters), at its line and column.

    ruamel's own message spans two lines and gives a character offset, not a position.
    """
    position = exc.position if isinstance(exc.position, int) else 0
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    character = exc.character
    shown = f"U+{character:04X}" if isinstance(character, int) else repr(character)
    return ConfigError.single(file, f"invalid YAML: character {shown} is not allowed "
                                    f"({_one_line(str(exc.reason))})", line=line, column=column)


def _yaml_error(exc: MarkedYAMLError, file: str) -> ConfigError:
    mark = exc.problem_mark or exc.context_mark
    if type(exc).__name__ == "MaxDepthExceededError":
        message = f"nesting deeper than {MAX_DEPTH} levels"
        if mark is None:
            return ConfigError.single(file, message)
        return ConfigError.single(file, message, line=mark.line + 1, column=mark.column + 1)
    problem = _one_line(str(exc.problem or exc.context or "invalid YAML"))
    message = f"invalid YAML: {problem}"
    if exc.context and exc.problem:
        message += f" ({_one_line(str(exc.context))}"
        if exc.context_mark is not None and mark is not exc.context_mark:
            message += f" at line {exc.context_mark.line + 1}"
        message += ")"
    if mark is None:
        return ConfigError.single(file, message)
    return ConfigError.single(file, message, line=mark.line + 1, column=mark.column + 1)


def read_text(path: Path) -> str:
    """Read a config file as UTF-8; missing, directory, unreadable or non-UTF-8 are errors."""
    text = read_config_text(path)
    if text is None:
        raise ConfigError.single(str(path), "no such file")
    return text


def load_yaml(path: Path) -> Document:
    return load_yaml_text(read_text(path), str(path))
