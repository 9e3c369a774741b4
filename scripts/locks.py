"""The locked Python environments, and `make lock`, which regenerates them.

    lock                         resolved from                       installed into
    requirements/dev.lock        pyproject.toml with [dev]           .venv (scripts/bootstrap.sh)
    requirements/service.lock    pyproject.toml                      the image (Dockerfile)
    requirements/transform.lock  transform/requirements-local.txt    .venv-transform (transform_env.sh)
    requirements/airflow.lock    transform/requirements-airflow.txt  .venv-airflow (transform_env.sh)

Each lock pins every package, with the sha256 of every file of the pinned release, and is
installed with `pip install --require-hashes`. The resolutions are universal (`uv pip compile
--universal`) from Python 3.11 up: one lock serves this machine's 3.11 and the image's 3.12
(Ubuntu 24.04), a package pinned differently per Python version carrying a marker.
service.lock is resolved within dev.lock, so the image runs the versions the tests ran.

Regenerating keeps every pin that still satisfies its range (uv prefers the versions already
in the output file); `--upgrade` (`make lock UPGRADE=1`) moves all of them to the newest
releases. `--airflow-constraints FILE` resolves the Airflow lock within Apache Airflow's
constraints file (constraints-<version>/constraints-3.11.txt of the Airflow project; the
repository holds no copy). tests/unit/test_locks.py fails when a lock no longer covers what
its source asks for.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON_FROM = "3.11"  # requires-python's lower bound; MWAA's Python for Airflow 2.10


@dataclass(frozen=True)
class Lock:
    path: str  # the lock, relative to the repository
    source: str  # what it is resolved from
    extras: tuple[str, ...] = ()  # pyproject extras included
    within: str | None = None  # another lock whose pins this one keeps


LOCKS = (
    Lock("requirements/dev.lock", "pyproject.toml", extras=("dev",)),
    Lock("requirements/service.lock", "pyproject.toml", within="requirements/dev.lock"),
    Lock("requirements/transform.lock", "transform/requirements-local.txt"),
    Lock("requirements/airflow.lock", "transform/requirements-airflow.txt"),
)
AIRFLOW_LOCK = "requirements/airflow.lock"


def uv() -> str:
    """uv from the same environment (it is a dev dependency), else from the PATH."""
    beside = Path(sys.executable).with_name("uv")
    found = str(beside) if beside.is_file() else shutil.which("uv")
    if found is None:
        raise SystemExit("locks: uv is not installed; run 'make venv' (uv is in pyproject's dev extra)")
    return found


def command(lock: Lock, *, upgrade: bool, constraints: Path | None) -> list[str]:
    args = [uv(), "pip", "compile", lock.source, "--output-file", lock.path, "--quiet"]
    args += ["--universal", "--python-version", PYTHON_FROM, "--generate-hashes", "--no-strip-extras"]
    args += ["--custom-compile-command", "make lock"]
    for extra in lock.extras:
        args += ["--extra", extra]
    if lock.within is not None:
        args += ["--constraint", lock.within]
    if constraints is not None and lock.path == AIRFLOW_LOCK:
        args += ["--constraint", str(constraints)]
    if upgrade:
        args.append("--upgrade")
    return args


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upgrade", action="store_true", help="move every pin to the newest release")
    parser.add_argument(
        "--airflow-constraints", type=Path, metavar="FILE", help="Airflow's constraints-3.11.txt"
    )
    args = parser.parse_args(argv)
    if args.airflow_constraints is not None and not args.airflow_constraints.is_file():
        print(f"locks: no constraints file at {args.airflow_constraints}", file=sys.stderr)
        return 2
    (ROOT / "requirements").mkdir(exist_ok=True)
    constraints = args.airflow_constraints.resolve() if args.airflow_constraints else None
    for lock in LOCKS:  # dev.lock before service.lock, which is resolved within it
        done = subprocess.run(command(lock, upgrade=args.upgrade, constraints=constraints), cwd=ROOT)
        if done.returncode != 0:
            print(f"locks: {lock.source} does not resolve; {lock.path} is unchanged", file=sys.stderr)
            return 1
        print(f"locks: {lock.path} from {lock.source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
