"""Parsers for the typed scalars of the config: durations, signals, ports, host:port pairs.

Each raises ValueError with a message that quotes the bad value and says what was expected;
the builder turns that into a Problem at the value's file:line.
"""

from __future__ import annotations

import re
import signal

_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def _quote(value: object) -> str:
    text = repr(value) if not isinstance(value, str) else f"'{value}'"
    return text if len(text) <= 60 else text[:57] + "...'"


def parse_duration(value: object) -> float:
    """Seconds from `10`, `1.5`, `"500ms"`, `"10s"`, `"2m"`, `"1m30s"`."""
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {_quote(value)}")
    if isinstance(value, int | float):
        if value < 0 or value != value or value == float("inf"):
            raise ValueError(f"invalid duration {_quote(value)} (must be a finite number >= 0)")
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"[0-9]+(\.[0-9]+)?", text):
            return float(text)
        parts = _DURATION_PART.findall(text)
        if parts and "".join(n + u for n, u in parts) == text:
            return sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)
    raise ValueError(f"invalid duration {_quote(value)} "
                     "(expected a number of seconds or e.g. 500ms, 10s, 2m)")


def signal_name(number: int) -> str:
    """`SIGTERM`, or `signal 40` for a real-time signal the enum does not name."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def parse_signal(value: object) -> int:
    """`SIGTERM`, `TERM`, `sigterm`, `15`, 15, or any number this system has (40 included)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value in {int(s) for s in signal.valid_signals()}:
            return value
    elif isinstance(value, str):
        text = value.strip().upper()
        if text.isascii() and text.isdigit():
            return parse_signal(int(text))
        name = text if text.startswith("SIG") else "SIG" + text
        if name in signal.Signals.__members__:
            return int(signal.Signals[name])
    raise ValueError(f"invalid signal {_quote(value)} (expected a name such as SIGTERM or TERM, "
                     "or a signal number)")


def parse_port(value: object) -> int:
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535:
        return value
    raise ValueError(f"port {_quote(value)} is out of range 1-65535")


def parse_host_port(value: object, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """`5432`, `"5432"`, `"db:5432"`, `"[::1]:5432"`."""
    if isinstance(value, int) and not isinstance(value, bool):
        return default_host, parse_port(value)
    if isinstance(value, str):
        host, sep, port = value.strip().rpartition(":")
        if not sep:
            return default_host, parse_port(port)
        host = host.strip("[]") or default_host
        return host, parse_port(port)
    raise ValueError(f"invalid address {_quote(value)} (expected PORT or HOST:PORT)")
