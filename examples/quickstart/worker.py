"""A worker that fetches the page once web is ready, then prints a line every INTERVAL seconds."""

import os
import signal
import sys
import time
import urllib.request

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
url = f"http://127.0.0.1:{os.environ['WEB_PORT']}/"
with urllib.request.urlopen(url, timeout=5) as answer:
    print(f"web answered {answer.status}: {answer.read().decode().strip()}")
interval = float(os.environ.get("INTERVAL", "2"))
tick = 0
while True:
    tick += 1
    print(f"tick {tick}: {os.environ['GREETING']}")
    time.sleep(interval)
