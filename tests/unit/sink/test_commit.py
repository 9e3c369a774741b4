"""The commit protocol on a local lake: every record exactly once, whatever the crash point."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from uuid import UUID, uuid4

import orjson
import pyarrow.parquet as pq
import pytest

from keystone_nexus import contracts, wire
from keystone_nexus.errors import PreconditionFailedError
from keystone_nexus.lake.local import LocalStore
from keystone_nexus.registry import sync_schemas
from keystone_nexus.registry.local import LocalRegistry
from keystone_nexus.sink import checkpoint
from keystone_nexus.sink.batcher import RawRecord
from keystone_nexus.sink.commit import CRASH_POINTS, CommitOptions, CrashInjector, PartitionCommitter
from keystone_nexus.sink.continuity import BatchStartError

TOPIC = "olist.payments.v1"
ENTITY = contracts.entity("payments")


class Killed(Exception):
    pass


def _kill() -> None:
    raise Killed


def payment(i: int, **change) -> dict[str, object]:
    doc = {
        "order_id": f"{i:032x}",
        "payment_sequential": 1,
        "payment_type": "credit_card",
        "payment_installments": 2,
        "payment_value": 10.5 + i,
    }
    return {**doc, **change}


def make_records(version: UUID, n: int = 40, start: int = 0) -> tuple[list[RawRecord], set[int], set[int]]:
    """Records with a known set of invalid offsets of every kind."""
    records: list[RawRecord] = []
    valid: set[int] = set()
    invalid: set[int] = set()
    for i in range(start, start + n):
        ts = 1_700_000_000_000 + i * 600_000  # ten minutes apart: several hours per batch
        if i % 10 == 3:
            value = wire.encode(orjson.dumps(payment(i, payment_type="cash")), version)
        elif i % 10 == 5:
            value = None  # tombstone
        elif i % 10 == 7:
            value = wire.encode(orjson.dumps(payment(i)), uuid4())  # unknown schema version
        elif i % 10 == 8:
            value = b"\x03\x09garbage"
        elif i % 10 == 9:
            value = orjson.dumps(payment(i))  # no header: the topic's schema
        else:
            value = wire.encode(orjson.dumps(payment(i)), version)
        records.append(RawRecord(i, ts, f"{i:032x}".encode(), value))
        (invalid if i % 10 in (3, 5, 7, 8) else valid).add(i)
    return records, valid, invalid


def lake_offsets(root: Path, prefix: str) -> list[int]:
    offsets: list[int] = []
    for path in sorted((root / prefix).rglob("*.parquet")):
        offsets.extend(pq.read_table(path).column("_offset").to_pylist())
    return sorted(offsets)


@pytest.fixture
async def setup(tmp_path: Path):
    registry = LocalRegistry(tmp_path / "registry")
    result = await sync_schemas(registry)
    store = LocalStore(tmp_path / "lake")
    with ThreadPoolExecutor(2) as executor:
        yield store, registry, executor, result.version_ids()[ENTITY.schema_name], tmp_path / "lake"


async def committer(store, registry, executor, crash=None, owner="a") -> PartitionCommitter:
    state = await checkpoint.load(store, TOPIC, 0, start_offset=0)
    return PartitionCommitter(
        store=store,
        registry=registry,
        entity=ENTITY,
        topic=TOPIC,
        partition=0,
        state=state,
        executor=executor,
        options=CommitOptions(),
        owner=owner,
        crash=crash,
    )


async def test_a_batch_lands_once_with_its_dead_letters(setup) -> None:
    store, registry, executor, version, root = setup
    records, valid, invalid = make_records(version)
    outcome = await (await committer(store, registry, executor)).commit(records)
    assert (outcome.valid, outcome.invalid, outcome.next_offset) == (len(valid), len(invalid), 40)
    assert lake_offsets(root, "bronze") == sorted(valid)
    assert lake_offsets(root, "dlq") == sorted(invalid)
    hours = {p.parent.name for p in (root / "bronze").rglob("*.parquet")}
    assert len(hours) >= 3, "a batch spanning hours is split by hour"
    dlq = pq.read_table(next((root / "dlq").rglob("*.parquet"))).to_pylist()
    reasons = {row["_offset"]: row["reason"] for row in dlq}
    assert "payment_type" in reasons[3]
    assert "tombstone" in reasons[5]
    assert "unknown schema" in reasons[7]
    assert "Glue header" in reasons[8]
    assert dlq[0]["raw"] is not None and dlq[0]["_topic"] == TOPIC
    saved = (await checkpoint.load(store, TOPIC, 0, start_offset=0)).checkpoint
    assert (saved.next_offset, saved.pending) == (40, None)


@pytest.mark.parametrize("point", CRASH_POINTS[:3])
async def test_a_crash_at_any_step_is_repaired_by_the_next_owner(setup, point: str) -> None:
    store, registry, executor, version, root = setup
    records, valid, invalid = make_records(version)
    first = await committer(store, registry, executor, CrashInjector(f"{point}:1", kill=_kill))
    with pytest.raises(Killed):
        await first.commit(records[:25])
    # The next owner starts from the lake's checkpoint and repeats an announced cut.
    second = await committer(store, registry, executor, owner="b")
    pending = second.pending
    start = second.next_offset
    if pending is not None:
        assert (pending.start, pending.end) == (0, 24)
        await second.commit([r for r in records if r.offset <= pending.end], pending.end)
    rest = [r for r in records if r.offset >= second.next_offset]
    await second.commit(rest)
    assert start in (0, 25)
    assert lake_offsets(root, "bronze") == sorted(valid)
    assert lake_offsets(root, "dlq") == sorted(invalid)


async def test_a_zombie_cannot_advance_after_losing_the_partition(setup) -> None:
    store, registry, executor, version, root = setup
    records, valid, _ = make_records(version)
    zombie = await committer(store, registry, executor, owner="zombie")
    await zombie.commit(records[:10])
    # The zombie pauses; a new owner takes over from the lake and moves on.
    owner = await committer(store, registry, executor, owner="new")
    await owner.commit(records[10:30])
    # The zombie wakes with stale state and tries to write its next batch.
    with pytest.raises(PreconditionFailedError):
        await zombie.commit(records[10:20])
    await owner.commit(records[30:])
    assert lake_offsets(root, "bronze") == sorted(valid)
    final = (await checkpoint.load(store, TOPIC, 0, start_offset=0)).checkpoint
    assert (final.next_offset, final.owner) == (40, "new")


async def test_schema_evolution_lands_in_the_same_table(setup) -> None:
    store, registry, executor, v1, root = setup
    doc = orjson.loads((await registry.latest(ENTITY.schema_name)).definition)
    doc["properties"]["payment_channel"] = {"type": ["string", "null"], "maxLength": 20}
    v2, created = await registry.register(ENTITY.schema_name, orjson.dumps(doc).decode())
    assert created
    records = [
        RawRecord(0, 1_700_000_000_000, b"a", wire.encode(orjson.dumps(payment(0)), v1)),
        RawRecord(
            1,
            1_700_000_000_001,
            b"b",
            wire.encode(orjson.dumps(payment(1, payment_channel="app")), v2.version_id),
        ),
    ]
    outcome = await (await committer(store, registry, executor)).commit(records)
    assert outcome.valid == 2
    (path,) = list((root / "bronze").rglob("*.parquet"))
    rows = pq.read_table(path).to_pylist()
    assert [r["payment_channel"] for r in rows] == [None, "app"]
    assert [r["_schema_version_id"] for r in rows] == [str(v1), str(v2.version_id)]


async def test_avro_and_json_payloads_land_in_the_same_table(setup) -> None:
    import io

    import fastavro

    from keystone_nexus.schemas_avro import avro_schema, avro_schema_name

    store, registry, executor, json_version, root = setup
    avro_version = await registry.latest(avro_schema_name(ENTITY))
    assert avro_version.data_format == "AVRO"
    parsed = fastavro.parse_schema(avro_schema(ENTITY))

    def avro(record: dict[str, object]) -> bytes:
        out = io.BytesIO()
        fastavro.schemaless_writer(out, parsed, record)
        return wire.encode(out.getvalue(), avro_version.version_id)

    records = [
        RawRecord(0, 1_700_000_000_000, b"a", avro(payment(0))),
        RawRecord(1, 1_700_000_000_001, b"b", wire.encode(orjson.dumps(payment(1)), json_version)),
        RawRecord(2, 1_700_000_000_002, b"c", avro(payment(2, payment_installments=99))),
        RawRecord(3, 1_700_000_000_003, b"d", wire.encode(b"\x00\x01", avro_version.version_id)),
    ]
    outcome = await (await committer(store, registry, executor)).commit(records)
    assert (outcome.valid, outcome.invalid) == (2, 2)
    (path,) = list((root / "bronze").rglob("*.parquet"))
    rows = pq.read_table(path).to_pylist()
    assert [r["order_id"] for r in rows] == [f"{0:032x}", f"{1:032x}"]
    assert rows[0]["payment_value"] == payment(0)["payment_value"]
    reasons = {
        r["_offset"]: r["reason"] for r in pq.read_table(next((root / "dlq").rglob("*.parquet"))).to_pylist()
    }
    assert "payment_installments" in reasons[2]
    assert "not Avro" in reasons[3]


async def test_partitioning_by_a_payload_field(setup) -> None:
    import dataclasses

    store, registry, executor, _, root = setup
    orders = contracts.entity("orders")
    order_version = (await registry.latest(orders.schema_name)).version_id

    def order(i: int, purchased: str | None) -> bytes:
        doc = {
            "order_id": f"{i:032x}",
            "customer_id": f"{i:032x}",
            "order_status": "delivered",
            "order_purchase_timestamp": purchased or "2017-01-01 00:00:00",
            "order_estimated_delivery_date": "2017-10-18 00:00:00",
        }
        return wire.encode(orjson.dumps(doc), order_version)

    records = [
        RawRecord(0, 1_700_000_000_000, b"a", order(0, "2017-10-02 10:56:33")),
        RawRecord(1, 1_700_000_000_000, b"b", order(1, "2017-10-02 10:01:00")),
        RawRecord(2, 1_700_000_000_000, b"c", order(2, "2018-03-05 23:59:59")),
    ]
    state = await checkpoint.load(store, orders.topic, 0, start_offset=0)
    by_field = PartitionCommitter(
        store=store,
        registry=registry,
        entity=orders,
        topic=orders.topic,
        partition=0,
        state=state,
        executor=executor,
        options=dataclasses.replace(CommitOptions(), time_fields={orders.topic: "order_purchase_timestamp"}),
        owner="a",
    )
    await by_field.commit(records)
    found = sorted(
        str(p.relative_to(root / "bronze" / "orders")) for p in (root / "bronze").rglob("*.parquet")
    )
    assert found == [
        f"dt=2017-10-02/hr=10/{orders.topic}+0+0000000000000000000.parquet",
        f"dt=2018-03-05/hr=23/{orders.topic}+0+0000000000000000002.parquet",
    ]


async def test_a_batch_must_start_at_the_checkpoint(setup) -> None:
    """An overlap (a first offset below next_offset) is refused; so is a gap, unless the
    caller read the records from next_offset (the log holds nothing in between)."""
    store, registry, executor, version, root = setup
    records, _, _ = make_records(version, n=30)
    first = await committer(store, registry, executor)
    await first.commit(records[:10])
    with pytest.raises(BatchStartError, match="overlap"):
        await first.commit(records[5:20])
    with pytest.raises(BatchStartError, match="gap"):
        await first.commit(records[15:20])
    with pytest.raises(BatchStartError, match="gap"):
        await first.commit(records[15:20], read_from=12)
    saved = (await checkpoint.load(store, TOPIC, 0, start_offset=0)).checkpoint
    assert (saved.next_offset, saved.pending) == (10, None), "a refused batch announces nothing"
    # Offsets 10-14 absent from the log (compacted away): read from 10, the batch may start at 15.
    outcome = await first.commit(records[15:20], read_from=10)
    assert (outcome.start, outcome.end) == (10, 19)
    # A repeated cut whose records are all gone: nothing to write, the checkpoint moves on.
    assert (await first.commit([], 24, read_from=20)).next_offset == 25
    assert lake_offsets(root, "bronze") == sorted(
        r.offset for r in records[:10] + records[15:20] if r.offset % 10 not in (3, 5, 7, 8)
    )
