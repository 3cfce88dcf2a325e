# vk-trio: every target sets itself up on a fresh machine.
#   make test   - venv + dev install, control-plane build (cached), ruff, mypy, import-linter, pytest
#   make bench  - every benchmark under bench/ (queue, client, e2e, fuzz)
#   make fuzz   - the parsers' fuzz run alone (bench/fuzz: 1.2 M inputs, not in CI)
#   make demo   - the main job on a local real control plane
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export GOTOOLCHAIN := local
export GOFLAGS := -mod=readonly

.PHONY: install test lint typecheck importlint pytest bench bench-quick fuzz demo controlplane clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(STAMP)

controlplane:
	scripts/controlplane build

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

importlint: install
	$(VENV)/bin/lint-imports

pytest: install controlplane
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test: lint typecheck importlint pytest

bench: install controlplane
	$(PY) -m bench

bench-quick: install controlplane
	$(PY) -m bench --quick

fuzz: install
	$(PY) -m bench.fuzz

demo: install controlplane
	scripts/demo

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
