# The two set-up commands: `make run` and `make test`. Everything else is a step of theirs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STATE  ?= $(CURDIR)/.state
AGENT_LISTEN ?= 127.0.0.1:54321

.PHONY: run test bench venv test-venv test-deps lint clean

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

run: venv
	@mkdir -p $(STATE)
	@echo "storconn agent: state in $(STATE)/agent, mounts under $(STATE)/mnt"
	@echo "  point the CLI at it:"
	@echo "    export STORCONN_AGENT_URL=http://$(AGENT_LISTEN) STORCONN_TOKEN_FILE=$(STATE)/agent/token"
	@echo "    $(BIN)/storconn refs list"
	@echo "  (the engine and its web pages arrive with issue 4; Ctrl-C stops the agent)"
	$(BIN)/storconn agent serve --state-dir $(STATE)/agent --mount-root $(STATE)/mnt --listen $(AGENT_LISTEN)

test-deps:
	scripts/install-test-deps

test: test-deps test-venv
	$(BIN)/python -m pytest

bench: test-deps test-venv
	$(BIN)/python -m benchmarks

lint: venv
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy src

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
