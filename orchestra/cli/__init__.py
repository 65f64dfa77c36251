"""The command line: parameters and presentation only (DESIGN §4)."""

from orchestra.cli.app import app, main

__all__ = ["app", "main"]
