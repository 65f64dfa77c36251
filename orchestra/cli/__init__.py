"""The command line: parameters and presentation only (DESIGN §4).

Importing this package imports nothing else: `orchestra up` reads its command line with
`cli/quick.py` and never loads the CLI framework that `cli/app.py` is built on.
"""
