#!/usr/bin/env bash
# Create .venv with everything the service, the local stack and the tests need, as
# requirements/dev.lock pins it.
# On a fresh Debian/Ubuntu machine, installs the few system packages first (as root).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-}"
if [[ -z "$PYTHON" ]]; then
  for candidate in python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      PYTHON="$(command -v "$candidate")"
      break
    fi
  done
fi

apt_install() {
  if [[ $(id -u) -ne 0 ]]; then
    echo "bootstrap: missing system packages: $*; install them with: sudo apt-get install -y $*" >&2
    exit 1
  fi
  echo "bootstrap: installing $*" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if [[ -z "$PYTHON" ]]; then
  apt_install python3 python3-venv python3-dev
  PYTHON="$(command -v python3)"
fi
if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  apt_install python3-venv
fi
if ! command -v make >/dev/null 2>&1 || ! command -v gcc >/dev/null 2>&1; then
  apt_install build-essential
fi
if ! command -v systemd-analyze >/dev/null 2>&1; then
  apt_install systemd  # the unit-file tests run systemd-analyze
fi
if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  apt_install postgresql  # the local stack's stand-in for Amazon RDS (nexus dev up)
fi

# The dependencies from the lock (scripts/locks.py, `make lock`), every file checked against
# its sha256; then the project itself, editable, without dependencies.
LOCK=requirements/dev.lock
STAMP=.venv/.installed
if [[ ! -x .venv/bin/python || ! -f $STAMP || pyproject.toml -nt $STAMP || $LOCK -nt $STAMP ]]; then
  [[ -x .venv/bin/python ]] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r "$LOCK"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
  touch "$STAMP"
fi
