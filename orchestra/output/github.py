"""GitHub Actions workflow commands, for a run under `GITHUB_ACTIONS=true`.

A failing service becomes an `::error::` annotation on the job and its last lines a
collapsible `::group::`. Each command is one line, its parts escaped as GitHub's own toolkit
escapes them (%, CR, LF everywhere; also : and , in a property such as the title), so a
service's text can neither end the command early nor start another.
"""

from __future__ import annotations


def _escape(text: str, *, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def error(title: str, message: str) -> str:
    """`::error title=TITLE::MESSAGE`."""
    return f"::error title={_escape(title, prop=True)}::{_escape(message)}"


def group(title: str) -> str:
    return f"::group::{_escape(title)}"


END_GROUP = "::endgroup::"
