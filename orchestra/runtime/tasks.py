"""Ending a task for good: cancel it and wait until it has ended.

A task that is only cancelled may go on: Python 3.11's `asyncio.wait_for` returns the inner
result instead of raising when a cancellation races the inner task's completion, and the
cancelled task then carries on with its loop. A check poller left like that keeps polling for
a run that is over, and its failures end the next run. So every task a run starts is ended
with `end_task` (cancelled again until it has really ended) before the run is over.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

#: How long to wait for a cancelled task to end before cancelling it again.
RECANCEL_AFTER = 0.01


async def end_task(task: asyncio.Future[Any]) -> None:
    """Cancel `task` and wait until it has ended, however it handles the cancellation.

    If the caller is cancelled meanwhile, `task` is still ended first, then the caller's
    cancellation goes on."""
    interrupted = False
    while not task.done():
        task.cancel()
        try:
            # a task that swallowed the cancellation goes on to its next await, where the
            # next cancel() finds it: so wait briefly, not for its end
            await asyncio.wait([task], timeout=RECANCEL_AFTER)
        except asyncio.CancelledError:
            interrupted = True
    if not task.cancelled():
        task.exception()   # retrieved: a failure of an abandoned task is not reported
    if interrupted:
        raise asyncio.CancelledError


async def end_tasks(tasks: Iterable[asyncio.Future[Any]]) -> None:
    for task in tasks:
        await end_task(task)
