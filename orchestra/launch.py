"""The `orchestra` entry point.

`up`, `start` and `run` are read by `cli/quick.py` and run with a lean set of imports: no CLI
framework, and only what the config at hand needs (a Procfile needs no YAML parser or JSON
Schema validator). Everything else, and anything the quick parser does not recognise, goes to
the typer CLI (`cli/app.py`).
"""

from __future__ import annotations

import contextlib
import os
import sys


def exit_now(code: int) -> None:
    """Exit without the interpreter's teardown (~20 ms of freeing what the OS frees anyway).

    Only after a run: every service is gone, the watchdog is reaped, output is flushed here.
    """
    ports = sys.modules.get("orchestra.config.ports")   # loaded only for `port: auto`
    if ports is not None:
        ports.release_ports()   # os._exit skips atexit, which would do it otherwise
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()
    os._exit(code)


def main() -> None:
    from orchestra.startup import pause_collector

    pause_collector()   # until the runtime starts: see orchestra/startup.py
    from orchestra.streams import check_standard_streams

    check_standard_streams()   # before anything opens a file that could take fd 1's number
    try:
        _main()
    except KeyboardInterrupt:  # Ctrl-C before the runtime took over the signal: nothing started
        exit_now(130)


def _main() -> None:
    argv = sys.argv[1:]
    if argv == ["--version"]:   # answered without the CLI framework, as `version` is asked often
        from orchestra import __version__

        sys.stdout.write(f"orchestra {__version__}\n")
        exit_now(0)
    if "up" in argv or "start" in argv or "run" in argv:
        from orchestra.cli.quick import is_run, parse

        request = parse(argv, os.environ)
        if request is not None:
            from orchestra.cli.report import exit_code_of

            if is_run(request):
                from orchestra.cli.run import run

                exit_now(exit_code_of(lambda: run(request)))
            from orchestra.cli.up import UpRequest, up  # imported by `parse` already

            if isinstance(request, UpRequest):
                exit_now(exit_code_of(lambda: up(request)))
    from orchestra.startup import resume_collector

    resume_collector()
    from orchestra.cli.app import main as cli_main

    cli_main()
