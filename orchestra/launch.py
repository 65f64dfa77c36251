"""The `orchestra` entry point: run a compiled invocation if there is one, else the full CLI.

Kept free of heavy imports: on the fast path (see `orchestra.compiled`) the CLI framework, the
YAML parser and the JSON Schema validator are never imported.
"""

from __future__ import annotations

import contextlib
import os
import sys


def exit_now(code: int) -> None:
    """Exit without the interpreter's teardown (~20 ms of freeing what the OS frees anyway).

    Only after a run: every service is gone, the watchdog is reaped, output is flushed here.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def main() -> None:
    from orchestra.streams import check_standard_streams

    check_standard_streams()   # before anything opens a file that could take fd 1's number
    try:
        _main()
    except KeyboardInterrupt:  # Ctrl-C before the runtime took over the signal: nothing started
        exit_now(130)


#: Set (only) on the process a compiling run re-executes; removed before anything reads the
#: environment, so it is neither part of a cache key nor passed to services.
REEXEC_MARK = "ORCHESTRA_REEXECUTED"


def _main() -> None:
    argv = sys.argv[1:]
    reexecuted = os.environ.pop(REEXEC_MARK, None) is not None
    if reexecuted or "up" in argv or "start" in argv or "run" in argv:
        from orchestra import compiled

        compiled.reexecuted = reexecuted   # never re-execute twice, whatever happens

        invocation = compiled.lookup(argv)
        if invocation is not None:
            exit_now(compiled.execute(invocation))
    from orchestra.cli.app import main as cli_main

    cli_main()
