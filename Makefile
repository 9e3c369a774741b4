# Keystone Nexus. `make demo` and `make test` work on a fresh Debian/Ubuntu machine.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
BIN := $(VENV)/bin
SCALE ?= 0.1
SEED ?= 42
DEMO_DIR ?= .state/demo

.PHONY: venv transform-env lock demo test lint format protos unit integration e2e bench clean

venv:
	@scripts/bootstrap.sh

## Regenerate requirements/*.lock (with hashes; every environment and the image install from
## them) from pyproject.toml and transform/requirements-*.txt, keeping the pins that still fit;
## UPGRADE=1 moves them all to the newest releases, AIRFLOW_CONSTRAINTS=FILE resolves the Airflow
## lock within Airflow's constraints file (scripts/locks.py).
lock: venv
	$(BIN)/python scripts/locks.py $(if $(UPGRADE),--upgrade) \
		$(if $(AIRFLOW_CONSTRAINTS),--airflow-constraints "$(AIRFLOW_CONSTRAINTS)")

## dbt + Great Expectations (.venv-transform) and Airflow (.venv-airflow), each in its own environment.
transform-env: venv
	@scripts/transform_env.sh

## The whole journey: stack up, an Olist dataset with bad events through the gRPC server, the
## bronze sink, the transform, a summary (scripts/demo.sh; `nexus demo`).
demo: venv
	@scripts/demo.sh "$(DEMO_DIR)" "$(SCALE)" "$(SEED)"

## Everything the tests need is installed by `venv`; the tests start their own broker and moto.
test: venv transform-env lint cpp-test dashboard-test
	mkdir -p .state
	$(BIN)/pytest -q -p no:cacheprovider --basetemp=.state/pytest --ignore=tests/browser tests ingestion_cpp/tests

unit: venv
	$(BIN)/pytest -q tests/unit

## tests/integration/conformance runs against the twin and the C++ server alike.
integration: venv cpp
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
.PHONY: cpp cpp-test image
cpp: venv
	@scripts/build_cpp.sh

## Build it and run its unit tests (ctest).
cpp-test: venv
	@scripts/build_cpp.sh --test

## The image (Dockerfile) as the tests build it: the service from requirements/service.lock, the
## C++ server with the tests' librdkafka and jemalloc, the built dashboard; then smoke-tested
## (nexus --version, the server's --help, the sink against the local stack; scripts/image.sh).
## With docker, podman or buildah (BUILDER=...); not part of `make test`.
image: venv dashboard
	@scripts/image.sh $(IMAGE_TAG)

## The web dashboard (dashboard/, served by `nexus dashboard`): pnpm (pinned, through npm when missing)
## installs the node modules from the lockfile; tsc checks, Vite builds dashboard/dist.
.PHONY: dashboard dashboard-test
PNPM_VERSION := 9.15.9
dashboard:
	@command -v pnpm >/dev/null || npm install -g --no-fund --no-audit pnpm@$(PNPM_VERSION)
	cd dashboard && pnpm install --frozen-lockfile --reporter=silent && pnpm build

## Vitest, then the page in headless Chromium (Debian's; installed as root when missing) against
## the journey's gold and a running sink (tests/browser; screenshots in .state/).
dashboard-test: venv transform-env dashboard
	@test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		{ echo "Chromium is missing: apt-get install chromium (as root)" >&2; exit 1; }
	cd dashboard && pnpm exec vitest run
	mkdir -p .state
	$(BIN)/pytest -q -p no:cacheprovider --basetemp=.state/pytest-dashboard tests/browser
