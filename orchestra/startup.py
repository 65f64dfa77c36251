"""The garbage collector is paused while orchestra starts, and runs as usual once it runs.

Starting means importing some hundred modules and reading the config: tens of thousands of
objects (functions, classes, the model) are made and almost none become garbage, yet every
700 of them the collector walks the young ones, and now and then older ones too, finding
nothing to free: ~4 ms of a cold start of ~70 ms (docs/PERFORMANCE.md). So `orchestra.launch`
pauses it first thing, and whatever runs services resumes it as their stack begins to run
(`runtime/loop.py`; `cli/run.py` for a command alone); every other command resumes it before
the CLI framework is imported. Nothing depends on when a collection happens: objects without
reference cycles are freed at once either way.

On resuming, what start-up made is moved out of the collector's sight (`gc.freeze`): it lives
as long as orchestra does (modules, classes, the plan), so later collections need not walk it
again, and `up --detach`'s daemon, forked after this, shares those pages with its parent
instead of copying them when a collection would touch them (the use `gc.freeze` documents).
"""

from __future__ import annotations

import gc


def pause_collector() -> None:
    """At the very start of the process, before any import of note."""
    gc.disable()


def resume_collector() -> None:
    """When the stack begins to run (or the CLI framework is imported); idempotent."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()
