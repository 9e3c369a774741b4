#!/usr/bin/env bash
# make demo: start the local stack, generate an Olist dataset, replay it into Kafka, run
# the bronze sink until everything is written, print what landed, and stop everything it
# started (also on Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."
STATE="${1:-.state/demo}"
SCALE="${2:-0.1}"
SEED="${3:-42}"
NEXUS=.venv/bin/nexus

mkdir -p "$STATE"
"$NEXUS" dev down --state-dir "$STATE" >/dev/null 2>&1 || true
trap '"$NEXUS" dev down --state-dir "$STATE"' EXIT
started=$SECONDS
"$NEXUS" dev up --state-dir "$STATE"
set -a
# shellcheck disable=SC1091
. "$STATE/env"
set +a
echo "== generating an Olist dataset at scale $SCALE (seed $SEED)"
"$NEXUS" olist generate --scale "$SCALE" --seed "$SEED" --out "$STATE/olist"
echo "== replaying it into Kafka"
"$NEXUS" replay --from "$STATE/olist" --rejects "$STATE/rejects.jsonl" --count
echo "== running the bronze sink until every event is in the lake ($NEXUS_LAKE__URI)"
NEXUS_SINK__MAX_LATENCY_S=2 "$NEXUS" run --until-idle 6 2>"$STATE/sink.log"
"$NEXUS" lake summary
echo "== done in $((SECONDS - started)) s; sink log: $STATE/sink.log"
