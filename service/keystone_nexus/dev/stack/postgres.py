"""The RDS stand-in: Debian's PostgreSQL server, one cluster per state dir.

The cluster lives in ``state_dir/postgres/`` (data, the socket and the generated password),
listens on loopback only, and is started as ``postgres`` itself (not ``pg_ctl``), so the
stack tracks it like the broker and moto. As root it runs as the ``postgres`` system user
(the server refuses to run as root). The cluster is kept across ``down``/``up``; its
superuser is ``nexus`` with a password generated once, and it holds two databases: ``nexus``
(the service's state) and ``airflow`` (the metadata of the local Airflow, transform/README.md).

Tuned for a development stack: no fsync (a crash of the machine may lose the last
commits; a crash of the server does not).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import time
from pathlib import Path
from urllib.parse import quote

from keystone_nexus.dev.stack.info import (
    AIRFLOW_DATABASE,
    HOST,
    LOG_DIR,
    POSTGRES,
    READY_TIMEOUT,
    DevStackError,
)
from keystone_nexus.dev.stack.process import ManagedProcess, check_alive, not_ready, require_free

__all__ = [
    "AIRFLOW_DATABASE",
    "POSTGRES_PACKAGE",
    "postgres_bindir",
    "postgres_dsn",
    "start_postgres",
    "wait_for_postgres",
]

POSTGRES_PACKAGE = "postgresql"  # Debian's, installed by scripts/bootstrap.sh
SUPERUSER = "nexus"
DATABASE = "nexus"
DATABASES = (DATABASE, AIRFLOW_DATABASE)
_CLUSTER = "postgres"
_SERVICE_USER = "postgres"


def postgres_bindir() -> Path:
    """The newest installed server's bin directory (Debian: /usr/lib/postgresql/N/bin)."""
    candidates = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1]
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise DevStackError(
        f"no PostgreSQL server found: install Debian's {POSTGRES_PACKAGE} package "
        f"(apt-get install {POSTGRES_PACKAGE}; scripts/bootstrap.sh does) "
        "or start the stack with --no-postgres"
    )


def _cluster(state_dir: Path) -> Path:
    return Path(state_dir) / _CLUSTER


def _as_server_user() -> list[str]:
    """The prefix that runs a command as the postgres user when we are root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(_SERVICE_USER)
    except KeyError as exc:
        raise DevStackError(
            f"running as root, the server needs the {_SERVICE_USER!r} system user "
            f"(Debian's {POSTGRES_PACKAGE} package creates it)"
        ) from exc
    return ["setpriv", f"--reuid={_SERVICE_USER}", f"--regid={_SERVICE_USER}", "--init-groups", "--"]


def _password(state_dir: Path) -> str:
    return (_cluster(state_dir) / "password").read_text().strip()


def postgres_dsn(state_dir: Path, port: int, database: str = DATABASE) -> str:
    password = quote(_password(state_dir), safe="")
    return f"postgresql://{SUPERUSER}:{password}@{HOST}:{port}/{database}"


def _init_cluster(state_dir: Path) -> None:
    """initdb once; the data dir then belongs to whoever runs the server."""
    root = _cluster(state_dir)
    data = root / "data"
    if (data / "PG_VERSION").exists():
        return
    import subprocess

    root.mkdir(parents=True, exist_ok=True)
    (root / "run").mkdir(exist_ok=True)
    password = root / "password"
    if not password.exists():
        password.write_text(secrets.token_urlsafe(24) + "\n")
    password.chmod(0o600)
    if os.geteuid() == 0:
        user = pwd.getpwnam(_SERVICE_USER)
        for path in (root, root / "run", password):
            os.chown(path, user.pw_uid, user.pw_gid)
        # The server user must be able to reach its cluster through the state dir's parents.
        for parent in root.parents:
            if parent == Path("/"):
                break
            with contextlib.suppress(OSError):
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    parent.chmod(mode | 0o001)
    command = [
        *_as_server_user(),
        str(postgres_bindir() / "initdb"),
        "-D",
        str(data),
        "-U",
        SUPERUSER,
        "--auth=scram-sha-256",
        f"--pwfile={password}",
        "--encoding=UTF8",
        "--locale=C",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        shutil.rmtree(data, ignore_errors=True)
        raise DevStackError(f"initdb failed for {data}: {(done.stderr or done.stdout).strip()[-2000:]}")


def start_postgres(
    state_dir: Path, port: int, *, wait: bool = True, timeout: float = READY_TIMEOUT
) -> ManagedProcess:
    """Start the state dir's cluster (made on first use) on 127.0.0.1:`port`; by default
    wait until it accepts the superuser and holds its databases."""
    require_free(POSTGRES, port)
    _init_cluster(state_dir)
    root = _cluster(state_dir)
    argv = [
        *_as_server_user(),
        str(postgres_bindir() / "postgres"),
        "-D",
        str(root / "data"),
        "-p",
        str(port),
        "-h",
        HOST,
        "-k",
        str(root / "run"),
        "-c",
        "fsync=off",
        "-c",
        "full_page_writes=off",
        "-c",
        "max_connections=200",
    ]
    proc = ManagedProcess.spawn(
        POSTGRES, argv, port=port, log_path=Path(state_dir) / LOG_DIR / "postgres.log", stop_signal="SIGINT"
    )
    if wait:
        try:
            wait_for_postgres(state_dir, port, timeout=timeout, process=proc)
        except BaseException:
            proc.stop()
            raise
    return proc


def wait_for_postgres(
    state_dir: Path, port: int, *, timeout: float = READY_TIMEOUT, process: ManagedProcess | None = None
) -> None:
    """Wait until the server accepts a login, then make sure its databases exist."""
    import psycopg

    what = f"PostgreSQL at {HOST}:{port} not ready"
    deadline = time.monotonic() + timeout
    last = "no answer"
    while True:
        check_alive(what, process)
        try:
            with psycopg.connect(
                postgres_dsn(state_dir, port, "postgres"), connect_timeout=2, autocommit=True
            ) as db:
                for name in DATABASES:
                    if db.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
                        db.execute(f'CREATE DATABASE "{name}"')
                return
        except psycopg.OperationalError as exc:
            last = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if time.monotonic() >= deadline:
            raise not_ready(what, process, f"no login within {timeout:.0f}s ({last})")
        time.sleep(0.1)
