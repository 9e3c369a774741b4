# Keystone Nexus. `make demo` and `make test` work on a fresh Debian/Ubuntu machine.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
BIN := $(VENV)/bin
SCALE ?= 0.1
SEED ?= 42
DEMO_DIR ?= .state/demo

.PHONY: venv transform-env demo test lint format protos unit integration e2e bench clean

venv:
	@scripts/bootstrap.sh

## dbt + Great Expectations (.venv-transform) and Airflow (.venv-airflow), each in its own environment.
transform-env: venv
	@scripts/transform_env.sh

## The whole journey: stack up, an Olist dataset with bad events through the gRPC server, the
## bronze sink, the transform, a summary (scripts/demo.sh; `nexus demo`).
demo: venv
	@scripts/demo.sh "$(DEMO_DIR)" "$(SCALE)" "$(SEED)"

## Everything the tests need is installed by `venv`; the tests start their own broker and moto.
test: venv transform-env lint cpp-test
	mkdir -p .state
	$(BIN)/pytest -q -p no:cacheprovider --basetemp=.state/pytest tests ingestion_cpp/tests

unit: venv
	$(BIN)/pytest -q tests/unit

integration: venv
	$(BIN)/pytest -q tests/integration

## The whole journey end to end (S3 lake in moto with the C++ server; local lake with the twin).
e2e: venv transform-env cpp
	$(BIN)/pytest -q tests/e2e

lint: venv
	$(BIN)/ruff check service tests scripts bench ingestion_cpp/tests transform
	$(BIN)/ruff format --check service tests scripts bench ingestion_cpp/tests transform
	$(BIN)/mypy

format: venv
	$(BIN)/ruff check --fix service tests scripts transform
	$(BIN)/ruff format service tests scripts transform

## Regenerate the Python stubs from protos/ (committed; a test proves they are current).
protos: venv
	$(BIN)/python scripts/gen_protos.py

bench: venv
	$(BIN)/pip install -q --disable-pip-version-check -r bench/requirements.txt
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf .state build .mypy_cache .ruff_cache .pytest_cache

## The C++ ingestion server (ingestion_cpp/build/olist_ingestion_enterprise); installs its Debian packages as root.
.PHONY: cpp cpp-test
cpp:
	@scripts/build_cpp.sh

## Build it and run its unit tests (ctest).
cpp-test:
	@scripts/build_cpp.sh --test
