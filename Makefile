# The two commands: `make serve` runs the platform, `make test` runs the whole suite.
# Both set up everything they need on a fresh machine (Python venv; Chromium and React for tests).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
PYTEST_ARGS ?=
# pytest-xdist workers for `make test`: one per core (each test file stays on one worker).
# Tests marked `alone` (they time how soon something answers) run afterwards, by themselves.
TEST_WORKERS ?= auto

.PHONY: setup setup-server serve demo test test-fast test-deps lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Everything the tests, lint and benchmarks need: the `dev` extra (the platform, PostgreSQL, Django).
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed-server

# What `make serve` needs: the SDK and the platform (`timeledger[server]`).
setup-server: $(VENV)/.installed-server

$(VENV)/.installed-server: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[server]'
	touch $@

serve: setup-server
	$(BIN)/timeledger serve --port $(PORT)

demo: setup-server
	$(BIN)/timeledger serve --port $(PORT) --demo --data-dir .timeledger-demo

test-deps: setup
	bash scripts/install-test-deps.sh

test: test-deps
	$(BIN)/ruff check src tests bench examples
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile -m "not alone" $(PYTEST_ARGS)
	$(BIN)/pytest -m alone $(PYTEST_ARGS) || [ $$? -eq 5 ]  # 5: PYTEST_ARGS selected none

# The unit layer (tests marked `unit`: no server, no PostgreSQL, no browser), in seconds.
test-fast: setup
	$(BIN)/lint-imports
	$(BIN)/pytest -m unit -q $(PYTEST_ARGS)

bench: setup
	for script in bench/ingest.py bench/ingest_pg.py bench/compaction.py bench/auth.py bench/sdk.py bench/adapter.py bench/dashboard.py; do \
		echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-artifacts node_modules
