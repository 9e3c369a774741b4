#!/usr/bin/env bash
# Does transform/requirements.txt (what MWAA installs beside the DAG) resolve together with
# Apache Airflow's constraints for the environment's Airflow version, as MWAA resolves it?
#   scripts/check_mwaa_requirements.sh CONSTRAINTS_FILE [AIRFLOW_VERSION]
# CONSTRAINTS_FILE: Airflow's constraints-<version>/constraints-3.11.txt (MWAA's Python for
# Airflow 2.10 is 3.11), from the Airflow project's constraints branch or the environment; the
# repository holds no copy. AIRFLOW_VERSION defaults to 2.10.3, MWAA's newest 2.10 release.
# A dry run: pip resolves against the package index and installs nothing. Exit 0 when it
# resolves; otherwise pip's conflict is printed and the exit is 1.
set -euo pipefail
cd "$(dirname "$0")/.."
constraints=${1:?usage: scripts/check_mwaa_requirements.sh CONSTRAINTS_FILE [AIRFLOW_VERSION]}
version=${2:-2.10.3}
[[ -f $constraints ]] || { echo "check_mwaa_requirements: no constraints file at $constraints" >&2; exit 2; }
PYTHON="${PYTHON:-.venv-airflow/bin/python}"
[[ -x $PYTHON ]] || { echo "check_mwaa_requirements: no $PYTHON (make transform-env)" >&2; exit 2; }
if "$PYTHON" -m pip install --dry-run --ignore-installed --quiet --disable-pip-version-check \
  "apache-airflow==$version" -r transform/requirements.txt -c "$constraints"; then
  echo "transform/requirements.txt resolves with apache-airflow==$version and $constraints"
else
  echo "transform/requirements.txt does not resolve with apache-airflow==$version and $constraints" >&2
  exit 1
fi
