"""A worker that prints a line every INTERVAL seconds until it is stopped."""

import os
import signal
import sys
import time

interval = float(os.environ.get("INTERVAL", "2"))
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
tick = 0
while True:
    tick += 1
    print(f"tick {tick}: {os.environ['GREETING']}")
    time.sleep(interval)
