"""The local stack that stands in for AWS and MSK during development and tests.

Three detached processes, started with :func:`up` and stopped with :func:`down`:

* **Kafka** -- Tansu with in-memory storage (:mod:`.broker`).
* **AWS** -- moto in server mode for S3, Glue, CloudWatch and Secrets Manager (:mod:`.moto`).
* **RDS** -- Debian's PostgreSQL, its cluster kept in the state dir (:mod:`.postgres`; optional).

The package, one module per part::

    info        names, defaults, errors, StackInfo and the env file it renders
    process     free ports, ManagedProcess (pid + argv + start time), readiness checks
    broker      start Tansu, wait for it, create and count topics
    moto        start moto, wait for it, create the bucket and the Glue registry
    postgres    initdb once, start PostgreSQL, wait for a login, the DSN
    state       the state dir: stack.json, env, logs/, .lock
    lifecycle   up, down, status, restart

Callers import from here (``from keystone_nexus.dev import stack``); the names below
are the whole public surface. Command line: ``python -m keystone_nexus dev
up|down|status|env --state-dir DIR`` (:mod:`keystone_nexus.cli.dev`).
"""

from __future__ import annotations

from keystone_nexus.dev.stack.broker import (
    broker_binary,
    create_topics,
    start_broker,
    topic_partitions,
    wait_for_broker,
)
from keystone_nexus.dev.stack.info import (
    DEFAULT_BUCKET,
    DEFAULT_REGION,
    DEFAULT_REGISTRY_NAME,
    DUMMY_AWS_CREDENTIALS,
    LOCAL_EXTRA,
    DevStackError,
    StackAlreadyRunningError,
    StackInfo,
    missing_local_packages,
    render_env_file,
    require_local_packages,
)
from keystone_nexus.dev.stack.lifecycle import down, restart, status, up
from keystone_nexus.dev.stack.moto import provision_aws, start_moto, wait_for_http
from keystone_nexus.dev.stack.postgres import postgres_bindir, start_postgres
from keystone_nexus.dev.stack.process import ManagedProcess, free_port
from keystone_nexus.dev.stack.state import load_info, processes

__all__ = [
    "DEFAULT_BUCKET",
    "DEFAULT_REGION",
    "DEFAULT_REGISTRY_NAME",
    "DUMMY_AWS_CREDENTIALS",
    "LOCAL_EXTRA",
    "DevStackError",
    "ManagedProcess",
    "StackAlreadyRunningError",
    "StackInfo",
    "broker_binary",
    "create_topics",
    "down",
    "free_port",
    "load_info",
    "missing_local_packages",
    "postgres_bindir",
    "processes",
    "provision_aws",
    "render_env_file",
    "require_local_packages",
    "restart",
    "start_broker",
    "start_moto",
    "start_postgres",
    "status",
    "topic_partitions",
    "up",
    "wait_for_broker",
    "wait_for_http",
]
