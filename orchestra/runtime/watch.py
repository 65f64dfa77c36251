"""`watch:` at run time: restart (or signal) a service when its files change.

One watcher for the whole stack: `watchfiles.awatch` over the union of every service's paths
(its Rust side, inotify on Linux, runs in one thread of its own; nothing runs per service).
Each batch of changes is dispatched here, on the event loop, to the services whose paths and
ignore patterns it concerns (`watch_paths.concerns`). A service acts once its files have been
quiet for its `debounce`, so a burst of saves (an editor's write, rename and chmod, or a
`git checkout`) restarts it once. A watched folder deleted and made again is watched anew,
also when a folder above it went and came back with it.

A restart goes through `Orchestrator.restart_instances`, the path of `orchestra restart`: the
stop signal and timeout, then the dependencies and readiness awaited again. The services that
depend on it with `restart: true` are restarted with it and start again after it, as their
conditions say; an instance stopped with `orchestra stop` stays stopped. `action: signal`
sends the signal to each instance's process group instead.
Actions run one at a time, so two services never restart the same dependent at once. Changes
that arrive while a service restarts restart it once more afterwards.

Imported only when a service of the run has `watch` (and `up --no-watch` was not given).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, NamedTuple

from orchestra.config.model import Service, WatchAction
from orchestra.config.values import signal_name
from orchestra.plan import Plan, restart_with_dependents
from orchestra.runtime.control_requests import StoppingError
from orchestra.runtime.events import SignalRequested
from orchestra.runtime.orchestrator import Orchestrator
from orchestra.runtime.tasks import end_tasks
from orchestra.runtime.unmet import unmet_dependency
from orchestra.runtime.watch_paths import (
    concerns,
    describe,
    holding_folders,
    on_the_way,
    shown,
    single_files,
    watch_roots,
)

if TYPE_CHECKING:   # imported in `_watch`, once the run has started
    from watchfiles.main import FileChange

#: watchfiles groups the changes of one burst until none came for this long (milliseconds).
STEP_MS = 50


class Watcher(NamedTuple):
    """One `watchfiles.awatch` of some folders, and the event that ends it."""

    task: asyncio.Task[None]
    stop: asyncio.Event
    roots: tuple[Path, ...]


@dataclass(eq=False)
class WatchedService:
    """One watching service: its settings, its instances and what changed since it acted."""

    service: Service
    instances: list[str]
    changed: set[Path] = field(default_factory=set)
    timer: asyncio.TimerHandle | None = None
    queued: bool = False     # an action is waiting for its turn or running


class FileWatcher:
    """Watches the files of every service with `watch` for the length of one run:
    `async with FileWatcher(orchestrator, plan): await orchestrator.run()`."""

    def __init__(self, orchestrator: Orchestrator, plan: Plan) -> None:
        self.orchestrator = orchestrator
        self.plan = plan
        self.watched: list[WatchedService] = []
        for instance in plan.instances:
            service = instance.service
            if service.watch is None:
                continue
            known = next((w for w in self.watched if w.service.name == service.name), None)
            if known is None:
                self.watched.append(WatchedService(service, [instance.name]))
            else:
                known.instances.append(instance.name)
        self._turn = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._stops: list[asyncio.Event] = []
        self._folders: list[Path] = []   # watched recursively, each by one inotify tree
        self._holders: list[Path] = []   # watched on their own (see `__aenter__`)
        self._files: list[Path] = []     # watched through their folder, a holder
        self._recursive: Watcher | None = None
        self._holding: Watcher | None = None
        self._actions: set[asyncio.Task[None]] = set()
        self._own = _own_output(orchestrator)

    async def __aenter__(self) -> FileWatcher:
        paths = {w.service.name: (list(w.service.watch.paths), Path(w.service.dir))
                 for w in self.watched if w.service.watch is not None}
        every = [p for listed, _ in paths.values() for p in listed]
        folders, parents = watch_roots(every)
        self._folders = folders
        self._files = single_files(every, folders)
        self.orchestrator.mux.system("watching files: " + "; ".join(
            f"{name}: {', '.join(shown(listed, folder))}"
            for name, (listed, folder) in paths.items()), event="watch")
        # Folders recursively; on their own, the folders of single files (watched through
        # their folder, see `watch_roots`) and the folders that hold the watched folders: an
        # inotify watch ends with the folder it watches, and it is there that a folder
        # deleted and made again (`git checkout`, `git stash`) shows up, to be watched anew.
        # Each sets up its inotify watches in its task's first step, which comes before any
        # service's: these tasks are created before the orchestrator creates the runners'.
        self._holders = sorted({*parents, *(f.parent for f in folders if f.parent != f)})
        self._rewatch([])
        return self

    def _start(self, roots: list[Path], *, recursive: bool) -> Watcher:
        """A watcher of `roots`, with its own stop event (started anew when what it watches
        is deleted or made again); `__aexit__` stops every one."""
        import watchfiles

        stop = asyncio.Event()
        task = asyncio.create_task(self._follow(watchfiles.awatch(
            *roots, watch_filter=None, step=STEP_MS, stop_event=stop, recursive=recursive,
            ignore_permission_denied=True)), name="watch")
        self._tasks.append(task)
        self._stops.append(stop)
        return Watcher(task, stop, tuple(roots))

    def _rewatch(self, changed: list[Path]) -> list[Path]:
        """Watch what exists now: each watched folder recursively, and each holder on its
        own or, while it is missing, the nearest folder above it that exists: it is there
        that the holder shows up when it is made again (`src` of `watch: [src/app]`, deleted
        and made again with `src/app` inside). Returns the watched folders that have come
        back, and the watched files in a holder that has: their re-creation is a change, even
        if it came before their new watch (`conf/site.ini`, written as soon as `conf` is
        made again).

        A watcher is started anew when its folders differ, or when one of them is among the
        `changed` paths (deleted, or made again: its inotify watch ended with the old
        folder). The new watcher is set up in its task's first step, before the services'
        debounce ends; the old one ends on its own within STEP_MS."""
        before = self._recursive.roots if self._recursive is not None else ()
        held_before = self._holding.roots if self._holding is not None else ()
        existing = [folder for folder in self._folders if folder.is_dir()]
        self._recursive = self._renew(self._recursive, existing, changed, recursive=True)
        holding = holding_folders(self._holders)
        self._holding = self._renew(self._holding, holding, changed, recursive=False)
        return [*(folder for folder in existing if folder not in before),
                *(file for file in self._files if file.parent in holding
                  and file.parent not in held_before and file.exists())]

    def _renew(self, current: Watcher | None, roots: list[Path], changed: list[Path], *,
               recursive: bool) -> Watcher | None:
        if current is not None:
            if current.roots == tuple(roots) and not any(p in current.roots for p in changed):
                return current
            current.stop.set()
            current.task.add_done_callback(self._forget)
        return self._start(roots, recursive=recursive) if roots else None

    def _forget(self, task: asyncio.Task[None]) -> None:
        index = self._tasks.index(task)
        del self._tasks[index], self._stops[index]

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        for stop in self._stops:   # the Rust threads see it within STEP_MS and return
            stop.set()
        for watched in self.watched:
            if watched.timer is not None:
                watched.timer.cancel()
        await end_tasks(list(self._actions))
        tasks = list(self._tasks)   # a watcher that ends leaves the list (`_forget`)
        if tasks:
            await asyncio.wait(tasks, timeout=5 * STEP_MS / 1000)
        await end_tasks(tasks)

    async def _follow(self, changes: AsyncIterator[set[FileChange]]) -> None:
        try:
            async for batch in changes:
                self._dispatch([Path(path) for _, path in batch])
        except (OSError, RuntimeError) as exc:   # e.g. the inotify watch limit reached
            self.orchestrator.mux.system(
                f"watching files failed: {exc}; services are no longer restarted on changes",
                event="watch-failed", reason=str(exc))

    def _dispatch(self, paths: list[Path]) -> None:
        if self.orchestrator.stopping:
            return
        loop = asyncio.get_running_loop()
        paths = [p for p in paths if not any(p == own or own in p.parents for own in self._own)]
        if any(on_the_way(p, [*self._folders, *self._holders]) for p in paths):
            paths += [back for back in self._rewatch(paths) if back not in paths]
        for watched in self.watched:
            watch = watched.service.watch
            assert watch is not None
            mine = [p for p in paths if concerns(watch, Path(watched.service.dir), p)]
            if not mine:
                continue
            watched.changed.update(mine)
            if watched.timer is not None:
                watched.timer.cancel()
            watched.timer = loop.call_later(watch.debounce, self._act_soon, watched)

    def _act_soon(self, watched: WatchedService) -> None:
        """The files stayed quiet for the debounce: act, unless an action of this service is
        queued or running already (it looks at the changes when its turn comes)."""
        watched.timer = None
        if watched.queued or self.orchestrator.stopping:
            return
        watched.queued = True
        task = asyncio.create_task(self._act(watched), name=f"watch {watched.service.name}")
        self._actions.add(task)
        task.add_done_callback(self._actions.discard)

    async def _act(self, watched: WatchedService) -> None:
        try:
            async with self._turn:
                while watched.changed and not self.orchestrator.stopping:
                    changed, watched.changed = sorted(watched.changed), set()
                    await self._act_once(watched,
                                         describe(changed, Path(watched.service.dir)))
        except StoppingError:   # the stack began to stop meanwhile: nothing starts now
            pass
        finally:
            watched.queued = False

    async def _act_once(self, watched: WatchedService, what: str) -> None:
        watch = watched.service.watch
        assert watch is not None
        try:
            if watch.action is WatchAction.SIGNAL:
                self._signal(watched, what, watch.signal)
            else:
                await self._restart(watched, what)
        except StoppingError:
            raise
        except Exception as exc:   # e.g. an `orchestra restart` of it at the same moment
            name = watched.service.name
            self.orchestrator.mux.system(f"{name}: could not act on the change: {exc!r}",
                                         service=name, event="watch-error", reason=repr(exc))

    def _signal(self, watched: WatchedService, what: str, signum: int) -> None:
        name = watched.service.name
        self.orchestrator.mux.system(
            f"{name}: {what} changed; sending {signal_name(signum)} to its process group",
            service=name, event="watch-signal", signal=signal_name(signum))
        for instance in watched.instances:   # those running get it; the machine decides
            self.orchestrator.runners[instance].handle(SignalRequested(signum))

    async def _restart(self, watched: WatchedService, what: str) -> None:
        name = watched.service.name
        runners = self.orchestrator.runners
        # `orchestra stop web` (to run it by hand, on the same port): a save must not start
        # it again behind the user's back; `orchestra restart` does
        stopped = {i for i in watched.instances
                   if runners[i].final and runners[i].facts.stopped_on_request}
        if stopped and stopped == set(watched.instances):
            self.orchestrator.mux.system(
                f"{name}: {what} changed; not restarted: stopped on request", service=name,
                event="watch-skipped", reason="stopped on request")
            return
        services = restart_with_dependents(self.plan, [name])
        wanted = set(services)
        instances = [i.name for i in self.plan.instances
                     if i.service.name in wanted and i.name not in stopped]
        unmet = unmet_dependency(self.orchestrator.runners, instances)
        if unmet is not None:   # it would be skipped, and that ends the stack
            self.orchestrator.mux.system(
                f"{name}: {what} changed; not restarted: it needs {unmet.dependency} "
                f"(condition {unmet.condition}), which has {unmet.state} (`orchestra restart "
                f"{unmet.dependency}` brings it back)",
                service=name, event="watch-blocked", reason=unmet.describe())
            return
        also = f" with {', '.join(services[1:])} (restart: true)" if len(services) > 1 else ""
        self.orchestrator.mux.system(f"{name}: {what} changed; restarting{also}",
                                     service=name, event="watch-restart", dependents=services[1:])
        await self.orchestrator.restart_instances(instances)


def _own_output(orchestrator: Orchestrator) -> list[Path]:
    """Where orchestra itself writes: `orchestra up > dev.log` (or `--detach --log-dir`)
    inside a watched folder must not restart a service for every line it prints, which would
    print more lines. (A `| tee dev.log` there is the user's to `ignore`.)"""
    own: list[Path] = []
    detached = orchestrator.settings.detached
    if detached is not None:
        own.append(detached.log_dir.resolve())
    for fd in (1, 2):
        with contextlib.suppress(OSError):
            if stat.S_ISREG(os.fstat(fd).st_mode):
                own.append(Path(os.readlink(f"/proc/self/fd/{fd}")))
    return own
