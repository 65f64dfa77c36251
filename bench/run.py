#!/usr/bin/env python3
"""Entry point of `make bench`: runs the `bench` package (stdlib only) from a checkout."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
