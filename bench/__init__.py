"""The side-by-side benchmark (stdlib only): `make bench`, `make bench-quick`.

Modules, in the order a run uses them: `config` (paths, sizes), `install`
(peers under bench/.peers), `runners` (services and how each peer is invoked),
`procfs` (sessions, trees, PSS, CPU from /proc), `stream` (reading and
checking a runner's stdout), `place` (a new project and cache folder per
repeat), `harness` (launch, wait, teardown of one run), `scenarios/` (what
each run measures), `suite` (repeats of every scenario for every runner),
`results` (medians and worst cases), `report` (tables), `targets` (the
cold-start targets judged on the run) and `docs_page` (docs/PERFORMANCE.md);
`cli` ties them together.
"""
