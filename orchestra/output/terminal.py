"""Service output on a terminal: control characters are shown, not obeyed.

A service's bytes go to the same terminal as every other service's lines and orchestra's own.
Obeyed, a carriage return (`printf '\\rweb | fake'`) or a backspace moves back over the real
prefix and forges another service's line, and an escape sequence (`\\e[1A\\e[2K`) moves the
cursor up and erases orchestra's lines; others set the window title, write the clipboard
(OSC 52) or switch the character set. So on a terminal they are shown as `cat -v` shows them:
`^M` for a carriage return, `^H` for a backspace, `^[` for ESC (`\\e[2K` appears as `^[[2K`),
`^?` for DEL, `^N` and the like for the other C0 controls, and `M-^[` for a C1 control such
as U+009B. Tabs and newlines stay, and so do SGR
sequences (`\\e[...m`, colours and styles), with a reset at the end of each line that has one,
so that no style (not even "concealed") carries over to the next line or to orchestra's own.

`--raw` passes everything through as written; pipes and files always get the bytes as written.
The multiplexer calls `needs_neutralising` on every run of lines (a few `in` checks, done in C)
and `neutralise` only for the rare run that has something to neutralise.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(rb"\x1b\[[0-9;:]*m|[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]")
"""An SGR sequence (kept), or one control character: C0 but tab and newline, DEL, or C1 in
UTF-8. SGR comes first, so that the ESC of a colour sequence is not taken alone."""

_RESET = b"\x1b[0m"


def needs_neutralising(text: bytes, ascii_only: bool) -> bool:
    """Whether `text` (valid UTF-8) may hold something to neutralise: the cheap test.

    ESC, CR and BS are what moves the cursor or starts a sequence; the other C0 controls are
    neutralised along with them but not searched for alone (each search costs a pass over the
    firehose). Text that is not pure ASCII may also hold a C1 control (0xC2 0x80-0x9F).
    """
    return (b"\x1b" in text or b"\r" in text or b"\x08" in text
            or (not ascii_only and b"\xc2" in text))


def _visible(match: re.Match[bytes]) -> bytes:
    found = match.group()
    if len(found) > 1 and found[0] == 0x1B:   # an SGR sequence: kept as it is
        return found
    if len(found) == 2:                        # C1 in UTF-8: 0xC2 then 0x80-0x9F
        return b"M-^" + bytes([found[1] - 0x80 + 0x40])
    code = found[0]
    return b"^?" if code == 0x7F else b"^" + bytes([code + 0x40])


def neutralise(text: bytes) -> bytes:
    """`text` (lines joined by newlines) with control characters made visible, SGR kept."""
    shown = _CONTROL.sub(_visible, text)
    if b"\x1b[" in shown:   # some style was kept: end it with its line
        shown = b"\n".join(line + _RESET if b"\x1b[" in line else line
                           for line in shown.split(b"\n"))
    return shown
