"""Helpers for the bronze sink's integration tests: a broker of their own, a known set
of records (valid and invalid) produced into it, sink processes, and exact accounting."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import orjson
import pyarrow.parquet as pq
from confluent_kafka import Producer

from keystone_nexus.contracts import entities as contracts
from keystone_nexus.contracts import glue_header as wire
from keystone_nexus.contracts.json_schema import all_definitions
from keystone_nexus.dev import stack as devstack
from keystone_nexus.registry.local import version_uuid

TOPICS = ("olist.payments.v1", "olist.orders.v1")
PARTITIONS = 3
Coord = tuple[str, int, int]


def _payment(i: int) -> dict[str, Any]:
    return {
        "order_id": f"{i:032x}",
        "payment_sequential": 1 + i % 3,
        "payment_type": ("credit_card", "boleto", "voucher")[i % 3],
        "payment_installments": 1 + i % 10,
        "payment_value": round(12.5 + i * 0.37, 2),
    }


def _order(i: int) -> dict[str, Any]:
    return {
        "order_id": f"{i:032x}",
        "customer_id": f"{i + 7:032x}",
        "order_status": "delivered",
        "order_purchase_timestamp": "2017-10-02 10:56:33",
        "order_approved_at": None,
        "order_delivered_carrier_date": None,
        "order_delivered_customer_date": "2017-10-10 21:25:13",
        "order_estimated_delivery_date": "2017-10-18 00:00:00",
    }


@dataclass
class Produced:
    valid: set[Coord] = field(default_factory=set)
    invalid: set[Coord] = field(default_factory=set)
    ends: dict[tuple[str, int], int] = field(default_factory=dict)  # next offset per partition


def kind_of(i: int, invalid_every: int) -> str:
    return {5: "bad-id", 11: "tombstone", 17: "not-json"}.get(i % invalid_every, "ok")


def produce_known_set(
    bootstrap: str,
    per_topic: int,
    *,
    invalid_every: int = 37,
    start: int = 0,
    versions: dict[str, UUID] | None = None,
) -> Produced:
    """Produce `per_topic` records to each topic; some are bad in one way or another.
    Returns the coordinates of each kind, from the delivery reports."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 10})
    out = Produced()

    def delivered(err: Any, msg: Any) -> None:
        assert err is None, err
        coord = (msg.topic(), msg.partition(), msg.offset())
        ok = kind_of(int(msg.key(), 16), invalid_every) == "ok"
        (out.valid if ok else out.invalid).add(coord)

    versions = versions or schema_ids()
    for topic in TOPICS:
        make = _payment if "payments" in topic else _order
        version = versions[contracts.entity_for_topic(topic).schema_name]
        for i in range(start, start + per_topic):
            record = make(i)
            kind = kind_of(i, invalid_every)
            if kind == "bad-id":
                record["order_id"] = "not-an-id"
            value: bytes | None = wire.encode(orjson.dumps(record), version)
            if kind == "tombstone":
                value = None
            elif kind == "not-json":
                value = wire.encode(b"{not json", version)
            elif i % 5 == 1:
                value = orjson.dumps(record)  # no header: the topic's schema applies
            producer.produce(topic, key=f"{i:032x}".encode(), value=value, on_delivery=delivered)
            producer.poll(0)
    assert producer.flush(30) == 0
    for topic, partition, offset in out.valid | out.invalid:
        key = (topic, partition)
        out.ends[key] = max(out.ends.get(key, 0), offset + 1)
    return out


@dataclass
class Transactions:
    """What a transactional producer wrote: records of committed and of aborted
    transactions, and of the one left open (if any), by coordinates."""

    committed: set[Coord] = field(default_factory=set)
    aborted: set[Coord] = field(default_factory=set)
    open: set[Coord] = field(default_factory=set)


def produce_transactions(
    bootstrap: str, outcomes: Sequence[str], per_transaction: int, *, topic: str = TOPICS[0]
) -> tuple[Transactions, Producer]:
    """One transaction per outcome ("commit", "abort" or "open", which must come last),
    each of `per_transaction` valid payment events spread over every partition, from one
    librdkafka transactional producer. Returns the producer too: an open transaction stays
    open until the caller aborts it (or drops the producer)."""
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"tx-{uuid4().hex[:8]}"})
    producer.init_transactions(30)
    version = schema_ids()[contracts.entity_for_topic(topic).schema_name]
    out = Transactions()
    for n, outcome in enumerate(outcomes):
        assert outcome in ("commit", "abort", "open") and (outcome == "open") <= (n == len(outcomes) - 1)
        into = {"commit": out.committed, "abort": out.aborted, "open": out.open}[outcome]

        def delivered(err: Any, msg: Any, into: set[Coord] = into) -> None:
            assert err is None, err
            into.add((msg.topic(), msg.partition(), msg.offset()))

        producer.begin_transaction()
        for i in range(n * 1000, n * 1000 + per_transaction):
            value = wire.encode(orjson.dumps(_payment(i)), version)
            producer.produce(
                topic, key=f"{i:032x}".encode(), value=value, partition=i % PARTITIONS, on_delivery=delivered
            )
        assert producer.flush(30) == 0
        if outcome == "commit":
            producer.commit_transaction(30)
        elif outcome == "abort":
            producer.abort_transaction(30)
    return out, producer


def lake_coords(lake: Path, prefix: str) -> Counter[Coord]:
    found: Counter[Coord] = Counter()
    for path in (lake / prefix).rglob("*.parquet"):
        table = pq.read_table(path, columns=["_topic", "_partition", "_offset"])
        for row in zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True):
            found[(row[0], row[1], row[2])] += 1
    return found


def checkpoint_offsets(lake: Path, dsn: str | None = None) -> dict[tuple[str, int], int]:
    """Each partition's next offset, from checkpoints with no pending cut: in the lake, or
    with `dsn`, in PostgreSQL (state.checkpoints = postgres)."""
    if dsn is not None:
        import psycopg

        with psycopg.connect(dsn) as conn:
            bodies = [
                bytes(r[0])
                for r in conn.execute(
                    "SELECT body FROM nexus.checkpoints WHERE lake = %s AND key NOT LIKE %s",
                    (f"file://{lake}", "%_fence_probe%"),
                )
            ]
    else:
        bodies = [path.read_bytes() for path in (lake / "_checkpoints").rglob("*.json")]
    out = {}
    for body in bodies:
        doc = orjson.loads(body)
        if doc.get("pending") is None:
            out[(doc["topic"], doc["partition"])] = doc["next_offset"]
    return out


class Broker:
    def __init__(self, state_dir: Path) -> None:
        # A port picked free can be taken by another process before the broker binds it
        # (a busy machine starting many brokers); then the broker dies at once: pick again.
        for attempt in range(3):
            self.port = devstack.free_port()
            try:
                self.process = devstack.start_broker(state_dir, self.port)
                break
            except devstack.DevStackError:
                if attempt == 2:
                    raise
        self.bootstrap = f"127.0.0.1:{self.port}"
        devstack.create_topics(self.bootstrap, list(TOPICS), PARTITIONS)

    def stop(self) -> None:
        self.process.stop()


class SinkProcess:
    """One `nexus run` process with its own log file."""

    count = 0

    def __init__(self, env: dict[str, str], log_dir: Path, **overrides: str) -> None:
        SinkProcess.count += 1
        self.log_path = log_dir / f"sink-{SinkProcess.count}.log"
        self.env = {**env, **overrides}
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "keystone_nexus", "run"],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self._log.flush()

    def signal(self, sig: int) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def stop(self, timeout: float = 40.0) -> int:
        self.signal(signal.SIGTERM)
        try:
            return self.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            return self.wait(10)

    def kill(self) -> None:
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGKILL)
        self.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def sink_env(bootstrap: str, lake_uri: str, registry: Path, group: str, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("NEXUS_")}
    return {
        **base,
        "NEXUS_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
        "NEXUS_KAFKA__TOPICS": ",".join(TOPICS),
        "NEXUS_KAFKA__GROUP_ID": group,
        "NEXUS_LAKE__URI": lake_uri,
        "NEXUS_REGISTRY__KIND": "local",
        "NEXUS_REGISTRY__LOCAL_PATH": str(registry),
        "NEXUS_SINK__MAX_BATCH_RECORDS": "40",
        "NEXUS_SINK__MAX_LATENCY_S": "1",
        "NEXUS_SINK__DRAIN_TIMEOUT_S": "10",
        "NEXUS_HEALTH__PORT": "0",
        **extra,
    }


def get(url: str) -> tuple[int, bytes]:
    """An HTTP GET's status and body; status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def wait_for(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return False


def wait_caught_up(
    lake: Path, ends: dict[tuple[str, int], int], timeout: float, alive: Any = None, dsn: str | None = None
) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = checkpoint_offsets(lake, dsn)
        if all(done.get(k, 0) >= v for k, v in ends.items()):
            return True
        if alive is not None and not alive():
            return False
        time.sleep(0.5)
    return False


def registered_versions(env: dict[str, str], tmp_path: Path) -> dict[str, UUID]:
    """`nexus schemas sync` with `env` (idempotent): {schema name: version id}, as the
    registry it names assigned them (Glue assigns its own)."""
    ids_file = tmp_path / "ids.json"
    subprocess.run(
        [sys.executable, "-m", "keystone_nexus", "schemas", "sync", "--ids-out", str(ids_file)],
        env=env,
        check=True,
        capture_output=True,
    )
    return {name: UUID(v) for name, v in orjson.loads(ids_file.read_bytes()).items()}


def schema_ids() -> dict[str, UUID]:
    return {name: version_uuid(name, text) for name, text in all_definitions().items()}
