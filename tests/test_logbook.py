"""The in-memory ring of each instance's lines behind `orchestra logs`."""

from __future__ import annotations

import pytest

from orchestra.output.lines import Run
from orchestra.runtime.logbook import Logbook


def _book(count: int, **bounds: int) -> Logbook:
    book = Logbook(["web"], clock=lambda: 1.0, **bounds)
    for n in range(count):
        book.record("web", "stdout", [Run(f"line{n}".encode(), False)])
    return book


@pytest.mark.parametrize("tail", [0, 1, 3, 59, 60, 61, 100, 119, 120, 1000, None])
def test_tail_is_the_last_lines_kept(tail: int | None) -> None:
    texts = [line["text"] for line in _book(60).lines(["web"], tail)]
    expected = [f"line{n}" for n in range(60)]
    if tail is not None:
        expected = expected[-tail:] if tail else []
    assert texts == expected


def test_the_ring_is_bounded_in_lines_and_bytes() -> None:
    assert len(_book(50, max_lines=10).lines(["web"])) == 10
    book = Logbook(["web"], max_bytes=100)
    book.record("web", "stdout", [Run(b"x" * 1000 + b"\n" + b"y" * 10, False)])
    texts = [line["text"] for line in book.lines(["web"])]
    assert texts[-1] == "y" * 10 and sum(len(t) for t in texts) <= 100


def test_followers_get_each_new_line_in_order() -> None:
    book = _book(2)
    seen: list[object] = []
    stop = book.follow(["web"], lambda line: seen.append(line["text"]))
    book.record("web", "stdout", [Run(b"a\nb", False)])
    stop()
    book.record("web", "stdout", [Run(b"c", False)])
    assert seen == ["a", "b"]
