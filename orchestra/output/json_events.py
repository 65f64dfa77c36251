"""`--output json`: every line as one JSON object on a line of its own.

A service's lines become `{"ts", "service", "stream", "text"}` (plus `"continued": true` for
the pieces after the first of a line cut at `--max-line`); orchestra's own messages are
objects of the stream `system` with an `event` and the fields that event carries. Imported
only when JSON output is asked for.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring

from orchestra.output.lines import Run


def system_event(now: float, service: str, event: str | None, text: str,
                 fields: dict[str, object]) -> bytes:
    """One of orchestra's own messages; its core keys win over same-named `fields`."""
    record: dict[str, object] = {"ts": now, "service": service, "stream": "system"}
    record.update(event=event, text=text)
    for key, value in fields.items():
        record.setdefault(key, value)
    line = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str)
    return line.encode("utf-8", "replace") + b"\n"


def service_lines(now: float, name: str, stream: str, runs: list[Run]) -> bytes:
    """The lines of `runs` as one object each. Built as text around each line's encoded
    string rather than by `json.dumps` per line: a firehose in JSON stays cheap."""
    head = (
        f'{{"ts":{json.dumps(now)},"service":{encode_basestring(name)},'
        f'"stream":{encode_basestring(stream)},"text":'
    )
    tail = "}\n"
    glue = tail + head
    parts = []
    for run in runs:
        lines = run.text.decode("utf-8", "replace").split("\n")
        first = encode_basestring(lines[0])
        if run.continued:
            first += ',"continued":true'
        rest = [encode_basestring(line) for line in lines[1:]]
        parts.append(glue.join([head + first, *rest]) + tail)
    return "".join(parts).encode()
