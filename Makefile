# The two commands a newcomer needs: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint typecheck rules unit bench clean report-deps

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "govledger needs Python >= 3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# The demo zone is loaded once; its API tokens (one per role) land in var/demo-tokens.txt.
run: $(BIN)/.installed report-deps
	$(BIN)/govledger init
	$(BIN)/govledger demo --if-empty --tokens var/demo-tokens.txt
	$(BIN)/govledger projections run
	@# Reading never writes: the projection worker keeps the views current beside the
	@# service (docs/projections.md), and stops with it.
	$(BIN)/govledger projections run --follow & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT; $(BIN)/govledger serve

lint: $(BIN)/.installed
	$(BIN)/ruff check .

typecheck: $(BIN)/.installed
	$(BIN)/mypy ledger projections security api ops

# Reports need a CJK font, pango (WeasyPrint) and poppler-utils (the PDF tests): from Debian.
report-deps:
	ops/scripts/install-report-deps.sh

# PostgreSQL tests run for real: the script starts a server when none answers.
# Under CI=true a PostgreSQL that cannot be had fails the run; elsewhere its tests skip.
unit: $(BIN)/.installed report-deps
	@# Console browser tests: Debian's chromium and a CJK font (idempotent; required under CI).
	@ops/scripts/browser-deps.sh || [ "$${CI:-}" != true ]
	@if pgenv=$$(ops/scripts/test-postgres.sh); then eval "$$pgenv"; \
	elif [ "$${CI:-}" = true ]; then echo "make test: PostgreSQL is required under CI" >&2; exit 1; \
	else echo "make test: no PostgreSQL; its tests will skip" >&2; fi; \
	$(BIN)/pytest

# Alert rules (ops/prometheus): promtool checks and rule unit tests. The script installs
# Debian's prometheus when missing (promtool, and the server the end-to-end alert test runs).
rules:
	ops/scripts/ensure-prometheus.sh
	promtool check rules ops/prometheus/alerts.yml
	promtool test rules ops/prometheus/alerts_test.yml
	promtool check rules ops/prometheus/witness_alerts.yml && promtool test rules ops/prometheus/witness_alerts_test.yml

test: lint typecheck rules unit

bench: $(BIN)/.installed
	$(BIN)/python bench/append.py
	$(BIN)/python bench/verify.py
	$(BIN)/python bench/load.py
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
