# The two set-up commands: `make run` and `make test`. Everything else is a step of theirs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STATE  ?= $(CURDIR)/.state
AGENT_LISTEN ?= 127.0.0.1:54321
ENGINE_LISTEN ?= 127.0.0.1:8080

.PHONY: run test bench venv test-venv test-deps ansible-venv lint clean

venv: $(VENV)/.installed
test-venv: $(VENV)/.test-installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	touch $@

# The test extras include the oVirt SDK, which compiles against libxml2:
# test-deps installs its headers first.
$(VENV)/.test-installed: $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

# The oVirt Ansible collection (inside ansible 12.3.0) and the SDK its modules
# import, in a venv of their own, for the acceptance tests in
# tests/integration/ansible. The script is idempotent: a second run costs nothing.
ansible-venv:
	PYTHON=$(PYTHON) scripts/ansible-venv .venv-ansible

run: venv
	BIN=$(BIN) STATE=$(STATE) AGENT_LISTEN=$(AGENT_LISTEN) ENGINE_LISTEN=$(ENGINE_LISTEN) scripts/run

test-deps:
	scripts/install-test-deps

test: test-deps test-venv ansible-venv
	$(BIN)/python -m pytest

bench: test-deps test-venv
	$(BIN)/python -m benchmarks

lint: venv
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy src

clean:
	rm -rf $(VENV) .venv-ansible .pytest_cache .hypothesis
