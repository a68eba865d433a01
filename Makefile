# Storefront: `make run` serves the demo shop, `make test` proves it works.
# Both set up everything themselves on a machine that has only Python 3.11+.

PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000
VENV := .venv
PY := $(VENV)/bin/python
STOREFRONT := $(PY) -m storefront
MO_FILES := $(patsubst %.po,%.mo,$(wildcard storefront/translations/*/LC_MESSAGES/messages.po))

.PHONY: run test lint unit integration e2e bench setup setup-dev migrate demo translations \
        extract-messages check-vendor check-migrations chromium lock clean prod-local profile

run: setup migrate demo
	@echo "Storefront is at http://$(HOST):$(PORT)/  (Ctrl+C stops it)"
	@echo "Back office: http://$(HOST):$(PORT)/admin  (an account first: $(VENV)/bin/python -m storefront staff add you@example.ch --role owner)"
	@STOREFRONT_BASE_URL=$${STOREFRONT_BASE_URL:-http://$(HOST):$(PORT)} $(STOREFRONT) run --host $(HOST) --port $(PORT)

test: setup-dev chromium lint check-vendor check-migrations
	$(PY) -m pytest

unit: setup-dev
	$(PY) -m pytest tests/unit

integration: setup-dev
	$(PY) -m pytest tests/integration

# make e2e ARGS="--base-url https://staging.example.ch -k webhook" points the journeys elsewhere
e2e: setup-dev chromium
	$(PY) -m pytest e2e $(ARGS)

lint: setup-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# The models and the migrations describe the same schema (on a throw-away SQLite database).
check-migrations: setup-dev
	@rm -rf var/check-migrations && mkdir -p var/check-migrations
	@STOREFRONT_DATABASE_URL=sqlite:///$(CURDIR)/var/check-migrations/shop.sqlite STOREFRONT_SANDBOX_DB=:memory: \
	    $(STOREFRONT) database upgrade --no-prompt >/dev/null 2>&1
	@out=$$(STOREFRONT_DATABASE_URL=sqlite:///$(CURDIR)/var/check-migrations/shop.sqlite STOREFRONT_SANDBOX_DB=:memory: \
	    $(STOREFRONT) database check 2>&1) || { echo "$$out"; exit 1; }; echo "migrations: $$(echo "$$out" | tail -n 1)"
	@rm -rf var/check-migrations

# The production layout on this machine: PostgreSQL, two uvicorn workers, Caddy with HTTPS; with
# JOURNEYS=1 the Playwright journeys run through it (needs PROD_LOCAL_POSTGRES, a PostgreSQL server).
prod-local: setup-dev chromium
	$(PY) deploy/prod_local.py $(if $(JOURNEYS),--journeys)

bench: setup-dev
	@command -v wrk >/dev/null || $(MAKE) --no-print-directory apt-wrk
	$(PY) bench/run.py

# Where a page's time goes: py-spy samples the benchmark's shop under wrk (see bench/profile.py).
profile: setup-dev
	@command -v wrk >/dev/null || $(MAKE) --no-print-directory apt-wrk
	$(PY) bench/profile.py

# --- set-up ------------------------------------------------------------------------------------

setup: $(VENV)/.main-installed $(MO_FILES)
setup-dev: $(VENV)/.dev-installed $(MO_FILES)

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Storefront needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.main-installed: requirements/main.txt | $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet --require-hashes -r requirements/main.txt
	@touch $@

$(VENV)/.dev-installed: requirements/dev.txt | $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet --require-hashes -r requirements/dev.txt
	@touch $@ $(VENV)/.main-installed

%.mo: %.po | $(VENV)/bin/python
	$(VENV)/bin/pybabel compile --use-fuzzy -i $< -o $@ >/dev/null

translations: $(MO_FILES)

# After changing texts: collect them and merge them into each language's catalogue.
extract-messages: setup-dev
	$(VENV)/bin/pybabel extract -F babel.cfg -k _ -k gettext -k N_ -k ngettext:1,2 --no-location \
	    --sort-output --omit-header -o storefront/translations/messages.pot .
	$(VENV)/bin/pybabel update -i storefront/translations/messages.pot -d storefront/translations \
	    --no-fuzzy-matching

migrate: setup
	@$(STOREFRONT) database upgrade --no-prompt >/dev/null

demo: migrate
	@$(STOREFRONT) demo load

check-vendor:
	sha256sum --check --quiet assets/vendor/htmx.min.js.sha256

# Playwright may not download browsers here; Debian's Chromium serves instead.
chromium:
	@if [ -n "$$STOREFRONT_CHROMIUM" ] || command -v chromium >/dev/null; then :; \
	elif ls -d "$${PLAYWRIGHT_BROWSERS_PATH:-$$HOME/.cache/ms-playwright}"/chromium* >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "Chromium is missing: sudo apt-get install chromium, or .venv/bin/playwright install chromium"; exit 1; fi

apt-wrk:
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
	else echo "wrk is missing: sudo apt-get install wrk"; exit 1; fi

# Re-pin after changing pyproject.toml (needs uv: pip install uv).
lock:
	cd requirements && uv pip compile ../pyproject.toml --universal --python-version 3.11 --generate-hashes \
	    --no-emit-index-url --no-emit-find-links --no-header -o main.txt
	cd requirements && uv pip compile ../pyproject.toml --extra dev --universal --python-version 3.11 \
	    --generate-hashes --no-emit-index-url --no-emit-find-links --no-header -c main.txt -o dev.txt

clean:
	rm -rf $(VENV) var test-results .pytest_cache .ruff_cache
