"""The kqueue backend's own behaviour, where `select.kqueue` exists (macOS, the BSDs): one
kqueue registered in the event loop, EVFILT_PROC / NOTE_EXIT per pid. The behaviour every
backend shares is in test_process_backends.py, which runs kqueue there too."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys

import pytest

from orchestra.runtime.backends import make

pytestmark = pytest.mark.skipif(not hasattr(select, "kqueue"), reason="no select.kqueue here")

SLEEP = [sys.executable, "-c", "import time; time.sleep(30)"]


def test_one_kqueue_watches_many_children_without_a_thread() -> None:
    import threading

    async def main() -> list[tuple[int, int | None]]:
        backend = make("kqueue", asyncio.get_running_loop())
        threads = threading.active_count()
        children = [subprocess.Popen([sys.executable, "-c", f"import sys; sys.exit({n})"])
                    for n in range(20)]
        seen = [asyncio.get_running_loop().create_future() for _ in children]
        for child, future in zip(children, seen, strict=True):
            backend.watch(child.pid, lambda f=future: f.done() or f.set_result(None))
        await asyncio.wait_for(asyncio.gather(*seen), 20)
        assert threading.active_count() == threads
        statuses = [backend.reap(child.pid) for child in children]
        for child, (code, _) in zip(children, statuses, strict=True):
            child.returncode = code
        return statuses

    assert asyncio.run(main()) == [(n, None) for n in range(20)]


def test_unwatch_deletes_the_event_and_a_second_watch_works() -> None:
    async def main() -> None:
        backend = make("kqueue", asyncio.get_running_loop())
        child = subprocess.Popen(SLEEP)
        try:
            assert not await backend.exited(child.pid, 0.05)   # registers, then unwatches
            os.kill(child.pid, signal.SIGKILL)   # not Popen's: it would reap the child
            assert await backend.exited(child.pid, 10)
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.returncode = backend.reap(child.pid)[0]

    asyncio.run(main())
