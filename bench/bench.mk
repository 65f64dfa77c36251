# Benchmark targets; included from the top-level Makefile.
# The harness runs on python3 from PATH; the project venv is only needed to run orchestra.
BENCH_PYTHON ?= python3
VENV ?= .venv

.PHONY: bench bench-quick bench-peers

# Install the peers (honcho venv, npm lockfile, ruby-foreman) into bench/.peers.
bench-peers:
	$(BENCH_PYTHON) bench/run.py --install-only

# Full run, rewrites docs/PERFORMANCE.md.
bench: $(VENV)/.installed bytecode
	BENCH_COMMAND="make bench" $(BENCH_PYTHON) bench/run.py --install --write-docs

# Under 3 minutes; `make bench-quick WRITE_DOCS=1` also rewrites docs/PERFORMANCE.md.
bench-quick: $(VENV)/.installed bytecode
	BENCH_COMMAND="make bench-quick" $(BENCH_PYTHON) bench/run.py --install --quick $(if $(WRITE_DOCS),--write-docs)
