# Tandem — the two commands of the quick start are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_URL ?= postgres://postgres@127.0.0.1:5432/test
PYTEST_ARGS ?=

.PHONY: demo test test-sqlite test-postgres lint venv test-deps pango browser oidc-provider axe clean bench

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit("Tandem needs Python 3.11 or newer") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.base-installed: requirements/base.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements/base.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.test-installed: requirements/test.txt $(VENV)/.base-installed
	$(BIN)/pip install --quiet --require-hashes -r requirements/test.txt
	touch $@

venv: $(VENV)/.base-installed

test-deps: $(VENV)/.test-installed pango browser oidc-provider axe

## Debian's Pango, which WeasyPrint (the PDF documents) loads (installed when missing and we are root).
pango:
	@if ldconfig -p 2>/dev/null | grep -q libpango-1.0.so.0; then :; \
	elif [ "$$(id -u)" = "0" ]; then \
		echo "Installing Debian's pango for the PDF documents"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core >/dev/null; \
	else echo "Pango is missing and we are not root: PDF documents cannot be made."; fi

## Debian's Chromium for the browser tests (installed when missing and we are root).
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = "0" ]; then \
		echo "Installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "Chromium is missing and we are not root: browser tests will be skipped."; fi

## A real OpenID Connect provider for the single sign-on tests (npm, when Node.js is there).
oidc-provider:
	@if [ -d tests/oidc_provider/node_modules/oidc-provider ]; then :; \
	elif command -v npm >/dev/null 2>&1; then \
		echo "Installing the test OIDC provider (tests/oidc_provider)"; \
		cd tests/oidc_provider && npm ci --no-audit --no-fund --silent; \
	else echo "npm is missing: the single sign-on tests will be skipped."; fi

## axe-core for the accessibility tests, injected into each page (npm, when Node.js is there).
axe:
	@if [ -f tests/axe/node_modules/axe-core/axe.min.js ]; then :; \
	elif command -v npm >/dev/null 2>&1; then \
		echo "Installing axe-core for the accessibility tests (tests/axe)"; \
		cd tests/axe && npm ci --no-audit --no-fund --silent; \
	else echo "npm is missing: the accessibility tests will be skipped."; fi

## Load the demo agencies (one per policy preset) and serve them on http://127.0.0.1:8000
demo: venv
	@mkdir -p var
	TANDEM_DEMO=1 $(BIN)/tandem migrate --noinput
	TANDEM_DEMO=1 $(BIN)/tandem demo
	TANDEM_DEMO=1 $(BIN)/tandem serve --addr 127.0.0.1:8000

## The whole suite on SQLite, then on PostgreSQL when one answers.
test: test-deps lint test-sqlite test-postgres

lint: $(VENV)/.test-installed
	$(BIN)/ruff check tandem tests bench
	$(BIN)/ruff format --check tandem tests bench
	$(BIN)/djlint tandem --lint
	TANDEM_INSECURE_HTTP=1 $(BIN)/mypy --strict tandem
	TANDEM_INSECURE_HTTP=1 $(BIN)/tandem makemigrations --check --dry-run

test-sqlite: test-deps
	@echo "== Test suite on SQLite"
	TANDEM_INSECURE_HTTP=1 $(BIN)/pytest -n 2 $(PYTEST_ARGS)

test-postgres: test-deps
	@if $(BIN)/python -c "import psycopg,sys; psycopg.connect('$(PG_URL)', connect_timeout=3).close()" 2>/dev/null; then \
		echo "== Test suite on PostgreSQL ($(PG_URL))"; \
		DATABASE_URL=$(PG_URL) TANDEM_INSECURE_HTTP=1 $(BIN)/pytest -n 2 $(PYTEST_ARGS); \
	else \
		echo "== PostgreSQL did not answer at $(PG_URL): the PostgreSQL run is SKIPPED (SQLite run only)."; \
	fi

bench: test-deps
	$(BIN)/python bench/pages.py

clean:
	rm -rf $(VENV) var/tandem.sqlite3* var/demo-credentials.json
