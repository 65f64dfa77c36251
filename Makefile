# Two commands set everything up on a fresh machine: `make up` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test lint check clean bytecode

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# compat: a plain path entry in a .pth file; the default import hook costs every start ~10 ms
	$(BIN)/pip install --quiet -e '.[test]' --config-settings editable_mode=compat
	touch $(STAMP)

# Bytecode for the package, as a regular install has: an editable install leaves it to the
# first run, and none is written where PYTHONDONTWRITEBYTECODE is set.
bytecode: $(STAMP)
	$(BIN)/python -m compileall -q orchestra

up: $(STAMP) bytecode
	$(BIN)/orchestra up -f examples/quickstart/orchestra.yaml

test: $(STAMP)
	$(BIN)/ruff check orchestra tests
	$(BIN)/mypy
	$(BIN)/pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check orchestra tests
	$(BIN)/ruff format --check orchestra tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info

include bench/bench.mk
