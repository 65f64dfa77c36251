"""Fetches the API's front page at the address orchestra gave it, then ends."""

import os
import urllib.request

url = f"http://{os.environ['API_HOST']}:{os.environ['API_PORT']}/"
with urllib.request.urlopen(url, timeout=5) as answer:
    print(f"api answered {answer.status} at {url}")
