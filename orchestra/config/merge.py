"""The merge pass: layered config files (`-f base.yaml -f local.yaml`, or orchestra.yaml and
the `orchestra.override.yaml` beside it) as one document, as docker compose merges them.

Later files win. Mappings are merged key by key, at every depth; a list or a scalar replaces
what was there (a list is not appended to: what the result holds is what the last file says);
a key whose value is `null` or tagged `!reset` is removed. Every node of the merged document
keeps the file and position it came from (`LayeredSourceMap`), so a problem found by a later
pass names the file that wrote the value, not the first file.
"""

from __future__ import annotations

from collections.abc import Sequence

from orchestra.config.collector import dotted
from orchestra.config.source import RESET, Document, PathKey, SourceMap
from orchestra.errors import ConfigError, Location, Problem


class LayeredSourceMap(SourceMap):
    """Positions in several files: each path is looked up in the file that wrote it.

    `origin` names the layer of a path whose value a layer replaced or introduced; a path
    without an entry of its own was written where its nearest ancestor with one was (the
    keys an earlier file wrote, inside a mapping a later one merged into, keep their origin).
    """

    def __init__(self, layers: Sequence[SourceMap]) -> None:
        super().__init__(layers[0].file)
        self.layers = tuple(layers)
        self.origin: dict[PathKey, int] = {(): 0}
        # where a later file removed a key (`!reset` or null), for a problem its absence makes
        self.removed: dict[PathKey, Location] = {}

    def locate(self, path: Sequence[str | int]) -> Location:
        return self._layer(path).locate(path)

    def locate_key(self, path: Sequence[str | int]) -> Location:
        return self._layer(path).locate_key(path)

    def _layer(self, path: Sequence[str | int]) -> SourceMap:
        key = tuple(path)
        while key not in self.origin:
            key = key[:-1]
        return self.layers[self.origin[key]]

    def replaced(self, path: PathKey, layer: int) -> None:
        """`layer` wrote the value at `path`, and so everything below it."""
        for known in [k for k in self.origin if k[:len(path)] == path]:
            del self.origin[known]
        self.origin[path] = layer
        self.removed.pop(path, None)


def merge_documents(documents: Sequence[Document]) -> Document:
    """One document from the layers, in order; `!reset` markers taken out of every layer.

    Raises ConfigError for a `!reset` inside a list (it removes a key; a list has none).
    """
    source = LayeredSourceMap([d.source for d in documents])
    problems: list[Problem] = []
    data = _plain(documents[0].data, (), documents[0].source, problems)
    for layer, document in enumerate(documents[1:], start=1):
        if document.data is None:   # an empty file changes nothing
            continue
        over = document.data
        if isinstance(data, dict) and isinstance(over, dict):
            data = _merge(data, over, (), layer, document.source, source, problems)
        else:   # the schema says what is wrong with a top level that is not a mapping
            source.replaced((), layer)
            data = _plain(over, (), document.source, problems)
    if problems:
        raise ConfigError(problems)
    return Document(data, source if len(documents) > 1 else documents[0].source)


def _merge(base: dict[str, object], over: dict[str, object], path: PathKey, layer: int,
           layer_source: SourceMap, source: LayeredSourceMap,
           problems: list[Problem]) -> dict[str, object]:
    result = dict(base)
    for key, value in over.items():
        here = (*path, key)
        if value is RESET or value is None:
            if result.pop(key, None) is not None:
                source.removed[here] = layer_source.locate_key(here)
            continue
        earlier = result.get(key)
        if isinstance(earlier, dict) and isinstance(value, dict):
            result[key] = _merge(earlier, value, here, layer, layer_source, source, problems)
        else:
            source.replaced(here, layer)
            result[key] = _plain(value, here, layer_source, problems)
    return result


def _plain(data: object, path: PathKey, source: SourceMap, problems: list[Problem]) -> object:
    """`data` without `!reset` markers: a key with one is left out (there is nothing below it
    to reset); one in a list is an error."""
    if data is RESET:
        return None
    if isinstance(data, dict):
        return {key: _plain(value, (*path, key), source, problems)
                for key, value in data.items() if value is not RESET}
    if isinstance(data, list):
        for index, item in enumerate(data):
            if item is RESET:
                problems.append(Problem(source.locate((*path, index)), dotted((*path, index)),
                                        "!reset removes a key of a mapping; a list item "
                                        "cannot be reset (write the whole list again)"))
        return [_plain(item, (*path, i), source, problems) for i, item in enumerate(data)]
    return data

