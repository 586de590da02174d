# idwallet: `make run` starts the whole system, `make test` runs the full suite.
# Both create .venv and install what is missing on a machine that has only Python 3.11+.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= $(or $(IDWALLET_PORT),8000)
HOST ?= $(or $(IDWALLET_HOST),127.0.0.1)
# The demo register service's port (make run starts it beside the API).
REGISTER_PORT ?= 8100
# Test processes of make unit / make test (files are spread over them whole).
TEST_WORKERS ?= 2

.PHONY: run test lint typecheck contracts unit bench openapi clean install

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/idwallet migrate
	@# the demo register service beside the API (its own process, stopped with it); the
	@# agencies read it over signed queries unless IDWALLET_REGISTER_CONNECTOR says otherwise
	IDWALLET_PORT=$(PORT) $(BIN)/idwallet register serve --host $(HOST) --port $(REGISTER_PORT) & \
	register=$$!; trap 'kill $$register 2>/dev/null' EXIT INT TERM; \
	IDWALLET_REGISTER_CONNECTOR=$${IDWALLET_REGISTER_CONNECTOR:-http} \
	IDWALLET_REGISTER_URL=$${IDWALLET_REGISTER_URL:-http://$(HOST):$(REGISTER_PORT)} \
	$(BIN)/idwallet serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check core issuers verifiers wallet oversight web app bench tests

typecheck: $(STAMP)
	$(BIN)/mypy

contracts: $(STAMP)
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test: lint typecheck contracts unit

bench: $(STAMP)
	$(BIN)/python -m bench

openapi: $(STAMP)
	$(BIN)/idwallet openapi --output openapi/openapi.json

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
