"""`orchestra tui`: a live terminal view of a running stack, on textual (the `tui` extra).

A client of the control socket like `orchestra ps` and `logs`: `source` asks the stack, with
asyncio so that nothing blocks the view; `widgets` and `screens` show what it answers; `app`
ties them to keys. Nothing here is imported unless `orchestra tui` or `up --tui` runs.
"""
