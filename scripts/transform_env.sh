#!/usr/bin/env bash
# Build the transform's two environments next to .venv, each only when its requirements
# changed (a stamp holds their hash):
#   .venv-transform  dbt (DuckDB, Athena) and Great Expectations   transform/requirements-local.txt
#   .venv-airflow    Airflow 2.10 + the Amazon provider (the DAG)   transform/requirements-airflow.txt
# `nexus transform` and the transform tests find them there. `--no-airflow`: the first only
# (what `make demo` needs).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
[[ -x $PYTHON ]] || { echo "transform_env: run scripts/bootstrap.sh first" >&2; exit 1; }
# The interpreter that made .venv (a venv of a venv would reach the main one's packages).
BASE="$("$PYTHON" -c 'import sys; print(sys._base_executable)')"

build() {
  local venv=$1 requirements=$2
  local stamp="$venv/.installed" want
  want="$(sha256sum "$requirements" | cut -d' ' -f1)"
  if [[ -x $venv/bin/python && -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
    return
  fi
  echo "transform_env: building $venv from $requirements" >&2
  [[ -x $venv/bin/python ]] || "$BASE" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  echo "$want" >"$stamp"
}

build .venv-transform transform/requirements-local.txt
[[ ${1:-} == --no-airflow ]] || build .venv-airflow transform/requirements-airflow.txt
