# Two commands set everything up on a fresh machine: `make up` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test test-without-proc lint check clean bytecode

# The tests that exercise processes, run a second time on the `posix` process backend (the
# one every POSIX system has; see orchestra/runtime/backends).
RUNTIME_TESTS := tests/test_up_lifecycle.py tests/test_up_output.py tests/test_up_shell.py \
	tests/test_up_signals.py tests/test_run_cmd.py tests/test_lifeline.py \
	tests/test_readiness_up.py tests/test_control.py tests/test_process_backends.py \
	tests/test_tty.py

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
	ORCHESTRA_PROCESS_BACKEND=posix $(BIN)/pytest -n 2 -q $(RUNTIME_TESTS)

# As root (a private mount namespace): the runtime tests with /proc hidden and Linux's pidfd,
# SO_PASSCRED and SO_PEERCRED absent, as on a platform that has none of them.
test-without-proc: $(STAMP)
	tests/portability/without_proc.sh -n 2 -q $(RUNTIME_TESTS)

lint: $(STAMP)
	$(BIN)/ruff check orchestra tests
	$(BIN)/ruff format --check orchestra tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info

include bench/bench.mk
