"""YAML serialisation for compose and Kubernetes, through ruamel.yaml.

ruamel quotes every scalar that would read back as something else (`"yes"`, `"8080"`,
`"null"`), escapes line breaks and control characters in double-quoted scalars, and keeps the
comments a format attaches to say what has no equivalent on the target.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap


def yaml_documents(documents: Sequence[object]) -> str:
    """One or more documents, `---` between them."""
    yaml = YAML(typ="rt")
    yaml.width = 4096            # a long command stays one scalar on one line
    yaml.indent(mapping=2, sequence=4, offset=2)
    # a label mapping used in three places is written three times, not as &id001 / *id001
    yaml.representer.ignore_aliases = lambda _data: True
    stream = io.StringIO()
    if len(documents) == 1:
        yaml.dump(documents[0], stream)
    else:
        yaml.explicit_start = True
        yaml.dump_all(documents, stream)
    return stream.getvalue()


def commented(data: Mapping[str, object], notes: Mapping[str, list[str]] | None = None,
              indent: int = 0) -> CommentedMap:
    """A mapping with `# note` lines above the keys that `notes` names."""
    result = CommentedMap(data)
    for key, lines in (notes or {}).items():
        if key in result and lines:
            result.yaml_set_comment_before_after_key(
                key, before="\n".join(" ".join(line.split()) for line in lines), indent=indent)
    return result
