# The two commands: `make run` (set up, start the devnet, compile, deploy, run) and `make test`.
# Every step is idempotent: stamps skip installs whose inputs did not change.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CL := $(BIN)/consent-ledger
PY_STAMP := $(VENV)/.stamp-deps
LOCK := requirements.lock
RUNTIME_LOCK := requirements-runtime.lock
# How the locks are made: every dependency of pyproject.toml (with the dev extra) pinned with hashes, for
# any platform, for the oldest Python we support; existing pins are kept unless UPGRADE=1. The runtime
# lock (what an installed wheel needs, without the dev tools) takes the same versions.
LOCK_FLAGS = --universal --python-version 3.11 --generate-hashes --quiet --custom-compile-command "make lock"
LOCK_CMD = $(BIN)/uv pip compile pyproject.toml --extra dev $(LOCK_FLAGS) $(if $(UPGRADE),--upgrade) -o $(LOCK) && \
	$(BIN)/uv pip compile pyproject.toml --constraint $(LOCK) $(LOCK_FLAGS) -o $(RUNTIME_LOCK) && \
	$(BIN)/uv pip compile --group slither $(LOCK_FLAGS) $(if $(UPGRADE),--upgrade) -o $(SLITHER_LOCK)
# Slither pins web3<8 (we run web3 8), so it gets a virtualenv of its own, from its own hash-pinned lock.
SLITHER_LOCK := requirements-slither.lock
SLITHER_VENV := $(VENV)/tools/slither
SLITHER_STAMP := $(SLITHER_VENV)/.stamp-deps
NPM_STAMP := node_modules/.stamp-npm
SYS_STAMP := var/.stamp-system

.PHONY: help setup lock wheel run test lint slither typecheck unit integration bench gas devnet-stop clean

help:
	@echo "make run    set up, start anvil, compile, deploy, seed demo data, serve the API on :8000"
	@echo "make test   set up and run lint, type checks and the whole test suite"
	@echo "make bench  every benchmark (gas, views, api, audit): JSON figures"
	@echo "make wheel  build dist/consent_ledger-*.whl with the compiled contract inside (installable anywhere)"
	@echo "make lint   ruff, and Slither on contracts/ (fails on any high or medium finding)"
	@echo "make lock   re-pin requirements.lock after a dependency changed in pyproject.toml (UPGRADE=1: newest)"

$(SYS_STAMP): scripts/system-deps.sh
	@echo "==> checking system packages (node, npm, python venv)"
	@bash scripts/system-deps.sh
	@mkdir -p var && touch $@

$(BIN)/python: | $(SYS_STAMP)
	@echo "==> creating virtualenv $(VENV)"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip

$(PY_STAMP): $(LOCK) pyproject.toml | $(BIN)/python
	@echo "==> installing the pinned Python dependencies from $(LOCK)"
	@$(BIN)/pip install --quiet --require-hashes -r $(LOCK)
	@$(BIN)/pip install --quiet --no-deps -e .
	@touch $@

$(SLITHER_STAMP): $(SLITHER_LOCK) | $(BIN)/python
	@echo "==> installing Slither into $(SLITHER_VENV) from $(SLITHER_LOCK)"
	@$(BIN)/python -m venv --clear $(SLITHER_VENV)
	@$(SLITHER_VENV)/bin/pip install --quiet --require-hashes -r $(SLITHER_LOCK)
	@touch $@

$(NPM_STAMP): package.json package-lock.json | $(SYS_STAMP)
	@echo "==> installing npm packages from package-lock.json (solc, anvil, OpenZeppelin)"
	@npm ci --no-audit --no-fund --loglevel=error
	@touch $@

setup: $(SYS_STAMP) $(PY_STAMP) $(NPM_STAMP) $(SLITHER_STAMP)

lock: | $(BIN)/python
	@echo "==> pinning pyproject.toml's dependencies into $(LOCK) and $(RUNTIME_LOCK)"
	@test -x $(BIN)/uv || $(BIN)/pip install --quiet uv
	@$(LOCK_CMD)
	@$(MAKE) --no-print-directory setup

run: setup
	@$(CL) devnet start --history-days 42
	@$(CL) compile
	@$(CL) deploy > /dev/null
	@$(CL) db upgrade
	@$(CL) seed --history-days 42
	@echo "==> to see a revocation arrive as a brand: in the brand console (http://127.0.0.1:8000/brand.html) make an"
	@echo "    API key with webhooks:manage, then in another terminal:"
	@echo "    $(CL) webhook listen --register --server http://127.0.0.1:8000 --api-key clk_..."
	@$(CL) serve

devnet-stop: setup
	@$(CL) devnet stop

lint: setup
	@echo "==> ruff"
	@$(BIN)/ruff check backend tests scripts
	@$(BIN)/ruff format --check backend tests scripts
	@$(MAKE) --no-print-directory slither

slither: setup
	@echo "==> slither on contracts/ (compiled by scripts/solc), failing on any high or medium finding"
	@$(BIN)/python scripts/slither_check.py contracts

typecheck: setup
	@echo "==> mypy --strict backend/"
	@$(BIN)/mypy

test: setup lint typecheck
	@command -v chromium >/dev/null || { echo "==> installing chromium for the browser tests"; \
	  SUDO=""; [ "$$(id -u)" -ne 0 ] && SUDO="sudo"; \
	  $$SUDO apt-get -o DPkg::Lock::Timeout=600 update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y chromium; }
	@echo "==> pytest"
	@$(BIN)/pytest

unit: setup
	@$(BIN)/pytest tests/unit

bench: setup
	@$(CL) bench gas --json
	@$(CL) bench views
	@$(CL) bench api --json
	@$(CL) bench audit --json
	@$(CL) bench load --json
	@$(CL) bench webhooks --json

gas: setup
	@$(CL) bench gas --json

wheel: setup
	@$(CL) compile
	@rm -rf dist build/lib build/bdist.*  # setuptools keeps old files there, and would ship them
	@mkdir -p backend/consent_ledger/web/vendor/uplot  # the pages' charts, from the npm install (git-ignored)
	@cp node_modules/uplot/dist/uPlot.esm.js node_modules/uplot/dist/uPlot.min.css node_modules/uplot/LICENSE \
	  backend/consent_ledger/web/vendor/uplot/
	@$(BIN)/pip wheel --quiet --no-deps --wheel-dir dist .
	@ls dist/*.whl

clean:
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache
