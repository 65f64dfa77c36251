"""Bounds on the work a YAML config can cause, enforced while it is being composed.

The pure-Python YAML parser composes a few hundred kilobytes a second, so a big or hostile file
must be refused early, not after it was read whole: a 50 MB file took 81 s to compose before
anything counted its nodes. The composer here counts every node as it is composed, and an
alias as the size of what it stands for (as if it were expanded, without expanding it), and
stops at `MAX_EXPANDED_NODES`. Together with the size limit on the file (config/textfile.py),
any file is refused within about a second, with a message that says which limit was hit.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml.composer import Composer
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import CollectionNode, MappingNode, Node, SequenceNode

#: Nodes a document may hold, counting what aliases expand to; real configs hold a few
#: thousand (1,000 services with a few settings each stay far below).
MAX_EXPANDED_NODES = 50_000
#: Nesting depth; deeper documents are certainly not configs (and would exhaust the stack).
MAX_DEPTH = 64


class LoadError(Exception):
    """A problem with the document at `node` (or at `mark`, a ruamel position, when given)."""

    def __init__(self, node: Node | None, message: str, mark: Any = None) -> None:
        super().__init__(message)
        self.node = node
        self.message = message
        self.mark = mark if mark is not None else getattr(node, "start_mark", None)

    def position(self) -> tuple[int | None, int | None]:
        """1-based (line, column), or (None, None) when unknown."""
        if self.mark is None:
            return None, None
        return self.mark.line + 1, self.mark.column + 1


class ExpansionMeasure:
    """Sizes a composed node as if every alias in it were expanded, without expanding anything.

    The composer shares one node per anchor, so a "billion laughs" file is small as nodes but
    huge as data. Sizes are memoised per node, so even that file is measured in a few steps; an
    alias inside its own anchor is found on the way (expanding it would never end).
    """

    def __init__(self) -> None:
        self.sizes: dict[int, int] = {}
        self.open: set[int] = set()

    def size(self, node: Node, depth: int = 0) -> int:
        known = self.sizes.get(id(node))
        if known is not None:
            return known
        if id(node) in self.open:
            raise recursive_alias(node)
        if depth > MAX_DEPTH:
            raise LoadError(node, f"nesting deeper than {MAX_DEPTH} levels")
        self.open.add(id(node))
        total = 1 + sum(self.size(child, depth + 1) for child in _children(node))
        self.open.discard(id(node))
        if total > MAX_EXPANDED_NODES:
            raise too_many_nodes(node, aliases=True)
        self.sizes[id(node)] = total
        return total


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [value for _, value in node.value]
    return []


def recursive_alias(node: Node) -> LoadError:
    name = f" '&{node.anchor}'" if getattr(node, "anchor", None) else ""
    return LoadError(node, f"recursive alias: the anchor{name} contains an alias to itself")


def too_many_nodes(node: Node | None, *, aliases: bool, mark: Any = None) -> LoadError:
    if aliases:
        what = f"expands to more than {MAX_EXPANDED_NODES:,} nodes through aliases"
    else:
        what = f"has more than {MAX_EXPANDED_NODES:,} nodes"
    return LoadError(node, f"the document {what} (the limit for a config); refusing to load it",
                     mark)


class CountingComposer(Composer):
    """ruamel's composer, counting nodes as they are composed and stopping at the limit."""

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self.count = 0
        self.from_aliases = 0   # of which aliases stand for
        self.measure = ExpansionMeasure()

    def compose_node(self, parent: Any, index: Any) -> Any:
        if not self.parser.check_event(AliasEvent):
            node = super().compose_node(parent, index)
            self._add(1, node)
            return node
        mark = self.parser.peek_event().start_mark
        node = super().compose_node(parent, index)
        if isinstance(node, CollectionNode) and node.end_mark is None:
            raise recursive_alias(node)   # its anchor is still being composed
        size = self.measure.size(node)
        self.from_aliases += size
        self._add(size, node, mark)
        return node

    def _add(self, size: int, node: Node, mark: Any = None) -> None:
        self.count += size
        if self.count > MAX_EXPANDED_NODES:
            # the message names what made it big: aliases, or the file itself
            raise too_many_nodes(node, aliases=2 * self.from_aliases > self.count, mark=mark)
