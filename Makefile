# vk-trio: every target sets itself up on a fresh machine.
#   make test   - venv + dev install, control-plane build (cached), ruff, mypy, import-linter,
#                 the vk-trio-queue distribution check, pytest
#   make test-faults - the fault-injection suite (tests/faults, docs/faults.md; not in `make test`)
#   make bench  - every benchmark under bench/ (queue, client, ..., e2e, fuzz)
#   make bench-e2e - the end-to-end comparison alone (own control plane, all contenders, one run)
#   make fuzz   - the parsers' fuzz run alone (bench/fuzz: 1.2 M inputs, not in CI)
#   make demo   - the main job on a local real control plane
#   make image  - the container image vk-trio:<version> (scripts/image: installs podman/buildah
#                 from Debian's packages if missing; a stand-in base when no registry is reachable)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export GOTOOLCHAIN := local
export GOFLAGS := -mod=readonly

.PHONY: install test test-faults lint typecheck importlint queue-dist pytest bench bench-quick bench-e2e fuzz \
	demo controlplane clean image

# vk-trio depends on vk-trio-queue (vk_trio/queue, packaged from packaging/vk-trio-queue), so that
# goes in first from this tree.  vk-trio itself is editable in "compat" mode: a .pth file puts the
# checkout on sys.path (and a second one providers/, the other package root), so the working
# tree's vk_trio, vk_trio.queue included, is what runs, and mypy and other tools see it too.
# setuptools' default editable mode for this layout is an import hook that mypy cannot follow
# (docs/queue.md, "Type checking an editable install").
$(STAMP): pyproject.toml packaging/vk-trio-queue/pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet ./packaging/vk-trio-queue
	$(PY) -m pip install --quiet --config-settings editable_mode=compat -e '.[dev]'
	$(PY) -c 'import pathlib, sysconfig; pathlib.Path(sysconfig.get_paths()["purelib"], \
	  "__editable__.vk_trio-providers.pth").write_text("$(CURDIR)/providers\n")'
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

# Builds the vk-trio-queue wheel and runs the docs example in a fresh virtualenv with only it
# installed (offline once the few dependency wheels are cached under ~/.cache/vk-trio).
queue-dist: install
	$(PY) packaging/vk-trio-queue/check_dist.py

test: lint typecheck importlint queue-dist pytest

# The fault-injection suite (docs/faults.md): VK_FAULTS_PODS pods (default 1000) churn on a real
# vk-trio process while each fault hits it. Kept out of `pytest`'s default collection
# (norecursedirs in pyproject.toml) because of its runtime; named explicitly here.
test-faults: install controlplane
	$(VENV)/bin/pytest -p no:cacheprovider -v tests/faults $(PYTEST_ARGS)

bench: install controlplane
	$(PY) -m bench

bench-quick: install controlplane
	$(PY) -m bench --quick

# The full end-to-end plan: starts its own control plane (--profile bench), runs every contender
# interleaved by repetition, writes bench/results/e2e.json, the tables and plots in
# docs/benchmarks.md, then compares with the committed results.  Needs Go and, the first time,
# the Go module proxy (docs/benchmarks.md, "Reproducing the end-to-end comparison").
bench-e2e: install controlplane
	$(PY) -m bench e2e

fuzz: install
	$(PY) -m bench.fuzz

demo: install controlplane
	scripts/demo

# tests/image (part of `make pytest`) builds the same image itself before its tests start.
image:
	scripts/image build

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
