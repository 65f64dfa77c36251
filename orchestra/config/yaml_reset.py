"""`!reset` with no value inside a flow collection: `{port: !reset}`, `{env: {A: !reset, B: 1}}`.

YAML allows a tag with no value after it (the value is then empty), but ruamel's scanner
wants a space after every tag and, in a flow collection, reads the `,` or `]` that follows as
part of the tag's name. So `port: !reset` works in block style while `{port: !reset}` is a
syntax error. This scanner reads `!reset` followed directly by `,`, `}` or `]` inside a flow
collection as the tag alone, which the parser then gives an empty value, as in block style;
every other tag is scanned by ruamel as before.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml.scanner import Scanner
from ruamel.yaml.tokens import TagToken

RESET_TAG = "!reset"
_FLOW_ENDS = ",]}"


class ResetScanner(Scanner):
    """ruamel's scanner, reading `!reset,` `!reset}` `!reset]` in flow style as the tag."""

    def scan_tag(self) -> Any:
        reader = self.reader
        if (self.flow_level and reader.prefix(len(RESET_TAG)) == RESET_TAG
                and reader.peek(len(RESET_TAG)) in _FLOW_ENDS):
            start = reader.get_mark()
            reader.forward(len(RESET_TAG))
            return TagToken(("!", RESET_TAG[1:]), start, reader.get_mark())
        return super().scan_tag()
