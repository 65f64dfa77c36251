"""One-shot setup step: writes the page the web service serves, then exits 0."""

import os
from pathlib import Path

site = Path(__file__).parent / "site"
site.mkdir(exist_ok=True)
(site / "index.html").write_text(f"<h1>{os.environ['GREETING']}</h1>\n", encoding="utf-8")
print(f"wrote {site / 'index.html'}")
