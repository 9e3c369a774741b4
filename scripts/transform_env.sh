#!/usr/bin/env bash
# Build the transform's two environments next to .venv, each from its lock (scripts/locks.py,
# `make lock`; every file checked against its sha256), and only when the lock changed (a stamp
# holds its hash):
#   .venv-transform  dbt (DuckDB, Athena) and Great Expectations   requirements/transform.lock
#                                                                  (transform/requirements-local.txt)
#   .venv-airflow    Airflow 2.10 + the Amazon provider (the DAG)   requirements/airflow.lock
#                                                                  (transform/requirements-airflow.txt)
# `nexus transform` and the transform tests find them there. `--no-airflow`: the first only
# (what `make demo` needs).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
[[ -x $PYTHON ]] || { echo "transform_env: run scripts/bootstrap.sh first" >&2; exit 1; }
# The interpreter that made .venv (a venv of a venv would reach the main one's packages).
BASE="$("$PYTHON" -c 'import sys; print(sys._base_executable)')"

build() {
  local venv=$1 lock=$2
  local stamp="$venv/.installed" want
  want="$(sha256sum "$lock" | cut -d' ' -f1)"
  if [[ -x $venv/bin/python && -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
    return
  fi
  echo "transform_env: building $venv from $lock" >&2
  [[ -x $venv/bin/python ]] || "$BASE" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes -r "$lock"
  echo "$want" >"$stamp"
}

build .venv-transform requirements/transform.lock
[[ ${1:-} == --no-airflow ]] || build .venv-airflow requirements/airflow.lock
