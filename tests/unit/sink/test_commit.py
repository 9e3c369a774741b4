"""The commit protocol on a local lake: every record exactly once, whatever the crash point."""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from keystone_nexus.contracts import entities as contracts
from keystone_nexus.contracts import glue_header as wire
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

    from keystone_nexus.contracts.avro_schema import avro_schema, avro_schema_name

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


async def test_records_compressed_by_the_aws_serdes_land(setup) -> None:
    """Glue-framed records with compression byte 5 (zlib), as the AWS serdes write them
    with compression on, land like uncompressed ones; a broken zlib body is dead-lettered."""
    store, registry, executor, version, root = setup
    records = [
        RawRecord(
            i,
            1_700_000_000_000,
            None,
            wire.encode(orjson.dumps(payment(i)), version, compression=wire.COMPRESSION_ZLIB),
        )
        for i in range(5)
    ]
    records.append(RawRecord(5, 1_700_000_000_000, None, bytes([3, 5]) + version.bytes + b"not zlib"))
    outcome = await (await committer(store, registry, executor)).commit(records)
    assert (outcome.valid, outcome.invalid) == (5, 1)
    assert lake_offsets(root, "bronze") == [0, 1, 2, 3, 4]
    dlq = pq.read_table(next((root / "dlq").rglob("*.parquet"))).to_pylist()
    assert [(row["_offset"], "does not decompress" in row["reason"]) for row in dlq] == [(5, True)]


async def test_a_poison_timestamp_is_dead_lettered_and_the_rest_lands(setup) -> None:
    """A Kafka timestamp in microseconds (year ~55,000) cannot be placed in an hour
    partition: that record is dead-lettered with the reason; the batch lands."""
    store, registry, executor, version, root = setup
    records = [
        RawRecord(i, 1_700_000_000_000 + i, None, wire.encode(orjson.dumps(payment(i)), version))
        for i in range(6)
    ]
    records[0] = RawRecord(0, 1_700_000_000_000_000, None, records[0].value)  # microseconds
    records[3] = RawRecord(3, -1, None, records[3].value)  # no timestamp
    outcome = await (await committer(store, registry, executor)).commit(records)
    assert (outcome.valid, outcome.invalid, outcome.next_offset) == (4, 2, 6)
    assert lake_offsets(root, "bronze") == [1, 2, 4, 5]
    (dlq_path,) = list((root / "dlq").rglob("*.parquet"))
    # Neither dead record has a time to place it by: the dead letters go to the ingestion hour.
    placed = datetime.strptime(dlq_path.parent.parent.name + dlq_path.parent.name, "dt=%Y-%m-%dhr=%H")
    assert abs(datetime.now(UTC).replace(tzinfo=None) - placed) < timedelta(hours=2)
    dlq = pq.read_table(dlq_path)
    reasons = dict(zip(dlq.column("_offset").to_pylist(), dlq.column("reason").to_pylist(), strict=True))
    assert set(reasons) == {0, 3}
    # The record is kept as it came, its timestamp included.
    assert pc.cast(dlq.column("_kafka_timestamp"), pa.int64()).to_pylist() == [1_700_000_000_000_000, -1]
    assert "unplaceable" in reasons[0] and "microseconds" in reasons[0]
    assert "before 1970" in reasons[3]


async def test_dead_letters_go_to_the_hour_of_their_first_placeable_record(setup) -> None:
    """A record a few hours ahead of ingestion is placeable (sink.max_timestamp_ahead_s
    allows a day): its dead letters are filed under its hour, as its bronze rows would be."""
    store, registry, executor, version, root = setup
    ahead = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=3)
    stamp = int(ahead.timestamp() * 1000)
    bad = wire.encode(orjson.dumps(payment(0, payment_type="cash")), version)
    records = [RawRecord(0, 1_700_000_000_000_000, None, bad), RawRecord(1, stamp, None, bad)]
    outcome = await (await committer(store, registry, executor)).commit(records)
    assert (outcome.valid, outcome.invalid) == (0, 2)
    (dlq_path,) = list((root / "dlq").rglob("*.parquet"))
    assert f"dt={ahead:%Y-%m-%d}/hr={ahead:%H}/" in dlq_path.as_posix()


async def test_kafka_timestamps_over_thousands_of_hours_write_a_bounded_number_of_files(setup) -> None:
    store, registry, executor, version, root = setup
    records = [
        RawRecord(i, 1_500_000_000_000 + i * 3_600_000, None, wire.encode(orjson.dumps(payment(i)), version))
        for i in range(2_000)
    ]
    outcome = await (await committer(store, registry, executor)).commit(records)
    assert (outcome.valid, outcome.invalid) == (2_000, 0)
    assert lake_offsets(root, "bronze") == list(range(2_000))
    assert outcome.files <= 24 + 1


async def _register(registry: LocalRegistry, change, compatibility="BACKWARD") -> UUID:
    doc = orjson.loads((await registry.latest(ENTITY.schema_name)).definition)
    change(doc)
    version, _ = await registry.register(
        ENTITY.schema_name, orjson.dumps(doc).decode(), compatibility=compatibility
    )
    return version.version_id


async def test_a_schema_version_without_columns_dead_letters_its_records_only(setup) -> None:
    store, registry, executor, v1, root = setup

    def add_array(doc) -> None:
        doc["properties"]["tags"] = {"type": ["array", "null"], "items": {"type": "string"}}

    v2 = await _register(registry, add_array)
    records = [
        RawRecord(0, 1_700_000_000_000, None, wire.encode(orjson.dumps(payment(0)), v1)),
        RawRecord(1, 1_700_000_000_000, None, wire.encode(orjson.dumps(payment(1, tags=["a"])), v2)),
        RawRecord(2, 1_700_000_000_000, None, wire.encode(orjson.dumps(payment(2)), v1)),
    ]
    outcome = await (await committer(store, registry, executor)).commit(records)
    assert (outcome.valid, outcome.invalid) == (2, 1)
    assert lake_offsets(root, "bronze") == [0, 2]
    (row,) = pq.read_table(next((root / "dlq").rglob("*.parquet"))).to_pylist()
    assert row["_offset"] == 1 and "cannot be written as columns" in row["reason"] and "tags" in row["reason"]


async def test_a_column_whose_type_changes_inside_a_batch_dead_letters_the_older_rows(setup) -> None:
    store, registry, executor, v1, root = setup

    def retype(doc) -> None:
        doc["properties"]["payment_installments"] = {"type": ["string", "null"]}

    v2 = await _register(registry, retype, compatibility="NONE")  # a registry without the check
    records = [
        RawRecord(0, 1_700_000_000_000, None, wire.encode(orjson.dumps(payment(0)), v1)),
        RawRecord(
            1, 1_700_000_000_000, None, wire.encode(orjson.dumps(payment(1, payment_installments="2")), v2)
        ),
    ]
    outcome = await (await committer(store, registry, executor)).commit(records)
    assert (outcome.valid, outcome.invalid) == (1, 1)
    assert lake_offsets(root, "bronze") == [1]
    (row,) = pq.read_table(next((root / "dlq").rglob("*.parquet"))).to_pylist()
    assert row["_offset"] == 0 and "payment_installments" in row["reason"] and "changed" in row["reason"]


async def test_a_repeated_cut_that_names_other_objects_leaves_no_duplicate(setup) -> None:
    """Seen: 21 unframed seller records, the first invalid under the latest schema; the
    sink dies after writing the batch's objects, before its checkpoint; a new latest
    version that accepts the first record is registered; the repeat writes bronze `+0`
    where the first attempt wrote bronze `+1` and dlq `+0`. Every offset must end up in
    exactly one object."""
    store, registry, executor, _, root = setup
    sellers = contracts.entity("sellers")

    def seller(i: int, **extra: object) -> bytes:
        doc = {
            "seller_id": f"{i:032x}",
            "seller_zip_code_prefix": "01001",
            "seller_city": "sp",
            "seller_state": "SP",
        }
        return orjson.dumps({**doc, **extra})

    records = [RawRecord(0, 1_700_000_000_000, None, seller(0, seller_tier="gold"))]
    records += [RawRecord(i, 1_700_000_000_000, None, seller(i)) for i in range(1, 21)]

    def make(crash: CrashInjector | None = None, owner: str = "a") -> PartitionCommitter:
        return PartitionCommitter(
            store=store,
            registry=registry,
            entity=sellers,
            topic=sellers.topic,
            partition=0,
            state=state,
            executor=executor,
            options=CommitOptions(),
            owner=owner,
            crash=crash,
        )

    state = await checkpoint.load(store, sellers.topic, 0, start_offset=0)
    with pytest.raises(Killed):
        await make(CrashInjector("after_data:1", kill=_kill)).commit(records)
    assert lake_offsets(root, "bronze") == list(range(1, 21)) and lake_offsets(root, "dlq") == [0]

    doc = orjson.loads((await registry.latest(sellers.schema_name)).definition)
    doc["properties"]["seller_tier"] = {"type": ["string", "null"]}
    await registry.register(sellers.schema_name, orjson.dumps(doc).decode())

    state = await checkpoint.load(store, sellers.topic, 0, start_offset=0)
    repeat = make(owner="b")
    assert repeat.pending is not None
    outcome = await repeat.commit(records, repeat.pending.end)
    assert (outcome.valid, outcome.invalid) == (21, 0)
    assert lake_offsets(root, "bronze") == list(range(21))
    assert lake_offsets(root, "dlq") == []
    saved = (await checkpoint.load(store, sellers.topic, 0, start_offset=0)).checkpoint
    assert (saved.next_offset, saved.pending) == (21, None)


async def test_a_repeat_that_dies_too_is_cleaned_by_the_next(setup) -> None:
    """Three attempts at one cut, each naming other objects: the last leaves only its own."""
    store, registry, executor, version, root = setup
    records, valid, invalid = make_records(version, n=20)
    first = await committer(store, registry, executor, CrashInjector("after_announce:1", kill=_kill))
    # The first attempt announced and died before writing; pretend it had written an object
    # the later attempts will not name (as a different validity would make it).
    with pytest.raises(Killed):
        await first.commit(records)
    announced = (await checkpoint.load(store, TOPIC, 0, start_offset=0)).checkpoint.pending
    assert announced is not None and announced.objects
    stray = announced.objects[0].replace("+0000000000000000000", "+0000000000000000001")
    state = await checkpoint.load(store, TOPIC, 0, start_offset=0)
    cut = replace(announced, objects=(*announced.objects, stray))
    await checkpoint.save(store, state, replace(state.checkpoint, pending=cut))
    await store.put(stray, b"an earlier attempt's object")
    second = await committer(store, registry, executor, CrashInjector("after_data:1", kill=_kill), owner="b")
    with pytest.raises(Killed):
        await second.commit(records, 19)
    assert await store.get(stray) is None
    third = await committer(store, registry, executor, owner="c")
    await third.commit(records, 19)
    assert lake_offsets(root, "bronze") == sorted(valid)
    assert lake_offsets(root, "dlq") == sorted(invalid)


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
