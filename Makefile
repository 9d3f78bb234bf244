# Everything a fresh machine needs: `make run` to serve, `make test` to check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CKSUM := $(shell cat pyproject.toml | cksum | cut -d' ' -f1)
STAMP := $(VENV)/.installed-$(CKSUM)
DEV_STAMP := $(VENV)/.installed-dev-$(CKSUM)
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: install install-dev run test lint typecheck format pytest browser bench wrk clean

## What serving needs, and no more: `make run` on a fresh machine installs only this.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		(echo "Python 3.11+ is required (set PYTHON=python3.11)"; exit 1)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e .
	rm -f $(VENV)/.installed-[0-9]*
	touch $(STAMP)

## The test and lint tools on top (pytest, playwright, schemathesis, mypy, ruff, ...).
$(DEV_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-dev-*
	touch $(DEV_STAMP)

install: $(STAMP)

install-dev: $(DEV_STAMP)

## Serve on http://$(HOST):$(PORT) with the embedded SQLite database; emails go to the log.
run: install
	$(BIN)/fastapi-auth db upgrade
	$(BIN)/fastapi-auth serve --host $(HOST) --port $(PORT) --no-migrate

## Lint (with the import contracts of pyproject.toml), types, then the suite (SQLite always; PostgreSQL and Redis when they answer).
test: install-dev browser lint typecheck pytest

lint: install-dev
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/lint-imports --no-cache

typecheck: install-dev
	$(BIN)/mypy

pytest: install-dev
	$(BIN)/pytest $(PYTEST_ARGS)

format: install-dev
	$(BIN)/ruff format src tests benchmarks examples
	$(BIN)/ruff check --fix src tests benchmarks examples

## Debian's Chromium for the browser tests (Playwright cannot download browsers here).
browser:
	@test -x /usr/bin/chromium || { \
		echo "installing Debian's chromium for the browser tests"; \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
		else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; }

## The load benchmark (not part of `make test`): see benchmarks/README.md. The servers run
## in a virtualenv of their own with the runtime dependencies only, as deployed.
BENCH_VENV ?= .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

$(BENCH_STAMP): pyproject.toml
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -e .
	rm -f $(BENCH_VENV)/.installed-*
	touch $(BENCH_STAMP)

bench: install-dev wrk $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.run --service-python $(BENCH_VENV)/bin/python $(BENCH_ARGS)

## Debian's wrk, the benchmark's load generator.
wrk:
	@command -v wrk >/dev/null || { \
		echo "installing Debian's wrk for the benchmark"; \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null; \
		else sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null; fi; }

clean:
	rm -rf $(VENV) $(BENCH_VENV) .mypy_cache .ruff_cache .pytest_cache auth.db auth.db-*
