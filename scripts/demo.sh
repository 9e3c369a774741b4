#!/usr/bin/env bash
# make demo: the whole journey on this machine, no AWS account.
#
#   scripts/demo.sh [STATE_DIR] [SCALE] [SEED]      (make demo SCALE=1 for the full size)
#
# Sets up what it needs (the C++ ingestion server when the toolchain allows, else the Python
# twin serves; the dbt + Great Expectations environment), then `nexus demo`: local stack,
# a generated Olist dataset plus deliberately bad events through the gRPC ingestion server,
# the bronze sink until every record is committed, the transform, and a summary. It stops
# everything it started, also on Ctrl-C. NEXUS_DEMO_SERVER=twin|cpp picks the server.
set -euo pipefail
cd "$(dirname "$0")/.."
STATE="${1:-.state/demo}"
SCALE="${2:-0.1}"
SEED="${3:-42}"
NEXUS=.venv/bin/nexus
started=$SECONDS

mkdir -p "$STATE"
echo "== environment" >&2
if [[ ${NEXUS_DEMO_SERVER:-auto} != twin ]]; then
  if ! scripts/build_cpp.sh >"$STATE/build_cpp.log" 2>&1; then
    echo "   the C++ server cannot be built here ($(tail -n 1 "$STATE/build_cpp.log")); the Python twin serves" >&2
  fi
fi
scripts/transform_env.sh --no-airflow
echo "   ready in $((SECONDS - started)) s" >&2

# `nexus demo` stops what it starts, also on Ctrl-C; this catches a harder end.
trap '"$NEXUS" dev down --state-dir "$STATE/stack" >/dev/null 2>&1 || true' EXIT
"$NEXUS" demo --state-dir "$STATE" --scale "$SCALE" --seed "$SEED" --server "${NEXUS_DEMO_SERVER:-auto}"
echo "make demo: $((SECONDS - started)) s in all" >&2
