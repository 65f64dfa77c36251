"""`python3 -m bench` from the repository root: the same as bench/run.py."""

import sys

from bench.cli import main

sys.exit(main(sys.argv[1:]))
