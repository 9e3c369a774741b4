#!/usr/bin/env bash
# make demo: start the local stack, generate an Olist dataset, replay it into Kafka,
# print what landed per topic, and stop everything it started (also on Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."
STATE="${1:-.state/demo}"
SCALE="${2:-0.1}"
SEED="${3:-42}"
NEXUS=.venv/bin/nexus

mkdir -p "$STATE"
"$NEXUS" dev down --state-dir "$STATE" >/dev/null 2>&1 || true
trap '"$NEXUS" dev down --state-dir "$STATE"' EXIT
"$NEXUS" dev up --state-dir "$STATE"
set -a
# shellcheck disable=SC1091
. "$STATE/env"
set +a
echo "== generating an Olist dataset at scale $SCALE (seed $SEED)"
"$NEXUS" olist generate --scale "$SCALE" --seed "$SEED" --out "$STATE/olist"
echo "== replaying it into Kafka"
"$NEXUS" replay --from "$STATE/olist" --rejects "$STATE/rejects.jsonl" --count
