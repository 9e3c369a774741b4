"""Dead-letter re-drive and reprocessing against a real broker and a lake the real sink
wrote: exact counts, exactly once after a schema fix, after a second run and after an
interrupted one; also on S3 (moto's server)."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest

from keystone_nexus.aws.clients import AwsOptions
from keystone_nexus.contracts import entities as contracts
from keystone_nexus.contracts.json_schema import entity_definition
from keystone_nexus.dev.stack import StackInfo
from keystone_nexus.kafka.range_reader import KafkaRangeReader
from keystone_nexus.lake.local import LocalStore
from keystone_nexus.lake.open import open_store
from keystone_nexus.lake.store import ObjectStore
from keystone_nexus.registry.local import LocalRegistry
from keystone_nexus.repair.lake_summary import summarize
from keystone_nexus.repair.redrive import list_dead_letters, redrive_dead_letters
from keystone_nexus.repair.reprocess import ReprocessError, plan_key, reprocess
from keystone_nexus.sink.commit import CommitOptions
from tests.integration.sinkkit import (
    Broker,
    Coord,
    Produced,
    SinkProcess,
    checkpoint_offsets,
    kind_of,
    lake_coords,
    produce_known_set,
    sink_env,
    wait_caught_up,
)

pytestmark = pytest.mark.integration

ORDERS = "olist.orders.v1"
INVALID_EVERY = 37
OPTIONS = CommitOptions()


@dataclass(frozen=True)
class Written:
    """A lake the real sink wrote from a known set of records, and where it came from."""

    broker: Broker
    lake: Path
    registry: Path
    produced: Produced
    env: dict[str, str]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Written]:
    root = tmp_path_factory.mktemp("redrive")
    broker = Broker(root)
    try:
        produced = produce_known_set(broker.bootstrap, 300, invalid_every=INVALID_EVERY)
        lake, registry = root / "lake", root / "registry"
        env = sink_env(
            broker.bootstrap,
            f"file://{lake}",
            registry,
            f"g-{uuid.uuid4().hex[:6]}",
            NEXUS_SINK__MAX_BATCH_RECORDS="25",
        )
        sink = SinkProcess(env, root)
        try:
            assert wait_caught_up(lake, produced.ends, 90, alive=lambda: sink.proc.poll() is None), sink.log()
        finally:
            assert sink.stop() == 0, sink.log()
        yield Written(broker, lake, registry, produced, env)
    finally:
        broker.stop()


@pytest.fixture
def copy(written: Written, tmp_path: Path) -> Written:
    """The written lake and registry copied for one test, which may change them."""
    lake, registry = tmp_path / "lake", tmp_path / "registry"
    shutil.copytree(written.lake, lake)
    shutil.copytree(written.registry, registry)
    env = {**written.env, "NEXUS_LAKE__URI": f"file://{lake}", "NEXUS_REGISTRY__LOCAL_PATH": str(registry)}
    return Written(written.broker, lake, registry, written.produced, env)


def bad_ids(produced: Produced, topic: str) -> set[Coord]:
    """The invalid records of `topic` that are invalid only because of the order_id pattern."""
    return {c for c in produced.invalid if c[0] == topic and c in _kinds(produced, "bad-id")}


_KIND_CACHE: dict[int, dict[Coord, str]] = {}


def _kinds(produced: Produced, kind: str) -> set[Coord]:
    return {c for c, k in _KIND_CACHE[id(produced)].items() if k == kind}


def remember_kinds(lake: Path, produced: Produced) -> None:
    """Each dead letter's kind, from its key (the producer's record number)."""
    kinds: dict[Coord, str] = {}
    for path in (lake / "dlq").rglob("*.parquet"):
        table = pq.read_table(path, columns=["_topic", "_partition", "_offset", "key"])
        for topic, partition, offset, key in zip(*(c.to_pylist() for c in table.columns), strict=True):
            kinds[(topic, partition, offset)] = kind_of(int(key, 16), INVALID_EVERY)
    _KIND_CACHE[id(produced)] = kinds


async def loosen_orders(registry: Path) -> None:
    """Register an orders schema without the order_id pattern: the 'schema fix'."""
    spec = contracts.entity("orders")
    schema = orjson.loads(entity_definition(spec))
    del schema["properties"]["order_id"]["pattern"]
    version, created = await LocalRegistry(registry).register(
        spec.schema_name, orjson.dumps(schema).decode(), compatibility="NONE"
    )
    assert created and version.version_number == 2, version


def files(lake: Path, prefix: str) -> dict[str, bytes]:
    return {str(p.relative_to(lake)): p.read_bytes() for p in sorted((lake / prefix).rglob("*.parquet"))}


def assert_partitioned(lake: Path, produced: Produced, *, redriven: bool = False) -> None:
    """Every produced offset once in bronze or (outstanding) in the dead-letter store."""
    bronze, dead = lake_coords(lake, "bronze"), lake_coords(lake, "dlq")
    assert not {c: n for c, n in bronze.items() if n > 1}, "duplicates in bronze"
    assert not {c: n for c, n in dead.items() if n > 1}, "duplicates in the dead-letter store"
    assert produced.valid <= set(bronze)
    assert set(bronze) | set(dead) == produced.valid | produced.invalid
    if not redriven:
        assert not set(bronze) & set(dead)


def assert_once(lake: Path, bronze: set[Coord], dlq_outstanding: set[Coord] | None = None) -> None:
    found = lake_coords(lake, "bronze")
    assert not {c: n for c, n in found.items() if n > 1}, "duplicates in bronze"
    assert set(found) == bronze, (len(set(found) - bronze), len(bronze - set(found)))
    if dlq_outstanding is not None:
        dead = lake_coords(lake, "dlq")
        assert not {c: n for c, n in dead.items() if n > 1}, "duplicates in the dead-letter store"


class Interrupted(Exception):
    pass


def stop_after(n: int) -> Any:
    count = 0

    async def hook(_key: str) -> None:
        nonlocal count
        count += 1
        if count >= n:
            raise Interrupted

    return hook


# ------------------------------------------------------------------------------ dlq


async def test_dlq_list_counts_what_was_produced_invalid(copy: Written) -> None:
    counts = await list_dead_letters(LocalStore(str(copy.lake)))
    per_entity: Counter[str] = Counter()
    for c in counts:
        per_entity[c.entity] += c.dead
        assert c.redriven == 0 and c.outstanding == c.dead
    expected = Counter(contracts.entity_for_topic(t).name for t, _, _ in copy.produced.invalid)
    assert per_entity == expected
    reasons = " ".join(c.reason for c in counts)
    assert "tombstone" in reasons and "order_id" in reasons
    remember_kinds(copy.lake, copy.produced)
    only = await list_dead_letters(LocalStore(str(copy.lake)), entity="orders", reason_like="TOMBSTONE")
    assert {c.entity for c in only} == {"orders"} and all("tombstone" in c.reason for c in only)
    tombstones = {c for c in _kinds(copy.produced, "tombstone") if c[0] == ORDERS}
    assert tombstones and sum(c.dead for c in only) == len(tombstones)


async def test_replay_after_a_schema_fix_lands_exactly_the_fixed_records_once(copy: Written) -> None:
    remember_kinds(copy.lake, copy.produced)
    store, registry = LocalStore(str(copy.lake)), LocalRegistry(copy.registry)
    nothing = await redrive_dead_letters(store, registry, options=OPTIONS)
    assert nothing.total == 0 and nothing.candidates == len(copy.produced.invalid)
    assert_once(copy.lake, copy.produced.valid)

    await loosen_orders(copy.registry)
    fixed = bad_ids(copy.produced, ORDERS)
    assert fixed
    report = await redrive_dead_letters(store, registry, options=OPTIONS)
    assert report.total == len(fixed) and report.redriven["orders"] == len(fixed)
    assert_once(copy.lake, copy.produced.valid | fixed)

    counts = await list_dead_letters(store)
    assert sum(c.redriven for c in counts) == len(fixed)
    assert sum(c.outstanding for c in counts) == len(copy.produced.invalid) - len(fixed)
    assert all(c.redriven == 0 for c in counts if c.entity == "payments")
    # The lake summary counts a re-driven record once: as a bronze row, not also as dead.
    summary = await summarize(store)
    assert sum(summary.bronze_rows.values()) == len(copy.produced.valid | fixed)
    assert sum(summary.dlq_rows.values()) == len(copy.produced.invalid) - len(fixed)
    assert summary.dlq_redriven["orders"] == len(fixed)

    before = files(copy.lake, "bronze")
    again = await redrive_dead_letters(store, registry, options=OPTIONS)
    assert again.total == 0 and again.resumed == 0
    assert files(copy.lake, "bronze").keys() == before.keys()
    assert_once(copy.lake, copy.produced.valid | fixed)


async def test_an_interrupted_replay_is_finished_by_the_next_one_without_duplicates(copy: Written) -> None:
    remember_kinds(copy.lake, copy.produced)
    store, registry = LocalStore(str(copy.lake)), LocalRegistry(copy.registry)
    await loosen_orders(copy.registry)
    fixed = bad_ids(copy.produced, ORDERS)
    with pytest.raises(Interrupted):
        await redrive_dead_letters(store, registry, options=OPTIONS, after_put=stop_after(2))
    pending = [p for p in (copy.lake / "_redriven").rglob("*.json") if b'"pending"' in p.read_bytes()]
    assert len(pending) == 1, "the interrupted round is announced as pending"
    report = await redrive_dead_letters(store, registry, options=OPTIONS)
    assert report.resumed >= 1
    assert_once(copy.lake, copy.produced.valid | fixed)
    assert not [p for p in (copy.lake / "_redriven").rglob("*.json") if b'"pending"' in p.read_bytes()]


async def test_replay_filters_by_entity_and_reason(copy: Written) -> None:
    remember_kinds(copy.lake, copy.produced)
    store, registry = LocalStore(str(copy.lake)), LocalRegistry(copy.registry)
    await loosen_orders(copy.registry)
    none = await redrive_dead_letters(store, registry, options=OPTIONS, entity="payments")
    assert none.total == 0
    tombstones = await redrive_dead_letters(store, registry, options=OPTIONS, reason_like="tombstone")
    assert tombstones.total == 0 and tombstones.candidates > 0
    report = await redrive_dead_letters(
        store, registry, options=OPTIONS, entity="orders", reason_like="order_id"
    )
    assert report.total == len(bad_ids(copy.produced, ORDERS))


# ------------------------------------------------------------------------------ reprocess


def objects_of(lake: Path, topic: str, partition: int) -> list[tuple[str, int, int]]:
    out = []
    for path in sorted(lake.rglob(f"*{topic}+{partition}+*.parquet")):
        offsets = pq.read_table(path, columns=["_offset"]).column("_offset").to_pylist()
        out.append((str(path.relative_to(lake)), min(offsets), max(offsets)))
    return out


def ingested(lake: Path) -> dict[str, Any]:
    return {
        key: pq.read_table(lake / key, columns=["_ingested_at"]).column("_ingested_at")[0].as_py()
        for key in files(lake, "bronze")
    }


async def test_reprocess_inside_one_object_rewrites_it_under_the_same_name(copy: Written) -> None:
    store, registry = LocalStore(str(copy.lake)), LocalRegistry(copy.registry)
    source = KafkaRangeReader(copy.broker.bootstrap)
    objects = [o for o in objects_of(copy.lake, ORDERS, 0) if o[0].startswith("bronze/") and o[2] - o[1] > 4]
    key, first, last = objects[1]
    before_names, before_times = set(files(copy.lake, "")), ingested(copy.lake)
    report = await reprocess(
        store, registry, source, topic=ORDERS, partition=0, start=first + 1, end=last - 1, options=OPTIONS
    )
    assert report.start <= first and report.end >= last and report.records > 0
    assert set(files(copy.lake, "")) == before_names, "the same names, nothing added or lost"
    after = ingested(copy.lake)
    assert after[key] != before_times[key], "the object in the range was rewritten"
    outside = [k for k, lo, hi in objects_of(copy.lake, ORDERS, 0) if hi < report.start or lo > report.end]
    outside += [k for k in before_times if f"{ORDERS}+0+" not in k]
    assert outside and all(after[k] == before_times[k] for k in outside if k in after)
    assert_once(copy.lake, copy.produced.valid)
    assert set(lake_coords(copy.lake, "dlq")) == copy.produced.invalid
    assert not (copy.lake / plan_key(ORDERS, 0)).exists()


async def test_reprocess_across_objects_after_an_interruption_leaves_every_offset_once(copy: Written) -> None:
    remember_kinds(copy.lake, copy.produced)
    store, registry = LocalStore(str(copy.lake)), LocalRegistry(copy.registry)
    source = KafkaRangeReader(copy.broker.bootstrap)
    end = checkpoint_offsets(copy.lake)[(ORDERS, 1)] - 1
    # A schema fix: the bad order ids of the range now pass, so objects change names and
    # some old ones must go; interrupted after two puts, then run again.
    await loosen_orders(copy.registry)
    with pytest.raises(Interrupted):
        await reprocess(
            store,
            registry,
            source,
            topic=ORDERS,
            partition=1,
            start=3,
            end=end - 3,
            options=OPTIONS,
            after_put=stop_after(2),
        )
    assert (copy.lake / plan_key(ORDERS, 1)).exists()
    report = await reprocess(
        store, registry, source, topic=ORDERS, partition=1, start=3, end=end - 3, options=OPTIONS
    )
    assert report.resumed
    assert not (copy.lake / plan_key(ORDERS, 1)).exists()
    assert_partitioned(copy.lake, copy.produced)
    # Reprocess decides as the sink does: a record framed with the old version is still
    # checked against it (it stays dead); `dlq redrive` applies the current schema.
    await redrive_dead_letters(store, registry, options=OPTIONS)
    assert_once(copy.lake, copy.produced.valid | bad_ids(copy.produced, ORDERS))
    assert_partitioned(copy.lake, copy.produced, redriven=True)


async def test_reprocess_replaces_redriven_objects_in_its_range(copy: Written) -> None:
    remember_kinds(copy.lake, copy.produced)
    store, registry = LocalStore(str(copy.lake)), LocalRegistry(copy.registry)
    await loosen_orders(copy.registry)
    fixed = bad_ids(copy.produced, ORDERS)
    await redrive_dead_letters(store, registry, options=OPTIONS)
    assert_once(copy.lake, copy.produced.valid | fixed)
    end = checkpoint_offsets(copy.lake)[(ORDERS, 2)] - 1
    source = KafkaRangeReader(copy.broker.bootstrap)
    await reprocess(store, registry, source, topic=ORDERS, partition=2, start=0, end=end, options=OPTIONS)
    assert not list(copy.lake.rglob(f"redrive+{ORDERS}+2+*.parquet")), "re-driven objects in the range went"
    assert_partitioned(copy.lake, copy.produced, redriven=True)
    in_bronze, in_dlq = set(lake_coords(copy.lake, "bronze")), set(lake_coords(copy.lake, "dlq"))
    assert not {c for c in in_bronze & in_dlq if c[:2] == (ORDERS, 2)}, (
        "partition 2 rebuilt as the sink would"
    )
    assert not list((copy.lake / "_redriven").rglob(f"{ORDERS}+2+*.json")), "their markers too"
    # The rebuilt dead letters are outstanding again; a replay lands them once more, once.
    counts = await list_dead_letters(store, entity="orders")
    outstanding = sum(c.outstanding for c in counts)
    again = await redrive_dead_letters(store, registry, options=OPTIONS)
    assert again.total > 0
    assert outstanding - again.total == sum(
        c.outstanding for c in await list_dead_letters(store, entity="orders")
    )
    assert_once(copy.lake, copy.produced.valid | fixed)


async def test_reprocess_refuses_offsets_the_sink_has_not_committed(copy: Written) -> None:
    store, registry = LocalStore(str(copy.lake)), LocalRegistry(copy.registry)
    next_offset = checkpoint_offsets(copy.lake)[(ORDERS, 0)]
    with pytest.raises(ReprocessError, match="running sink"):
        await reprocess(
            store,
            registry,
            KafkaRangeReader(copy.broker.bootstrap),
            topic=ORDERS,
            partition=0,
            start=next_offset - 2,
            end=next_offset,
            options=OPTIONS,
        )
    assert_once(copy.lake, copy.produced.valid)


def test_the_commands(copy: Written, state_dsn: str) -> None:
    """The commands, their --json, and their runs in the ledger (nexus.runs)."""
    env = {**copy.env, "NEXUS_STATE__DSN": state_dsn}

    def nexus(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "keystone_nexus", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    listed = nexus("dlq", "list")
    assert listed.returncode == 0, listed.stderr
    total = listed.stdout.strip().splitlines()[-1].split()
    assert total[0] == "total" and int(total[1].replace(",", "")) == len(copy.produced.invalid)
    listed_json = json.loads(nexus("dlq", "list", "--json").stdout)
    assert listed_json["total"]["dead"] == len(copy.produced.invalid)
    assert sum(row["dead"] for row in listed_json["dead_letters"]) == len(copy.produced.invalid)
    assert {row["entity"] for row in listed_json["dead_letters"]} <= {e.name for e in contracts.entities()}
    summary = json.loads(nexus("lake", "summary", "--json").stdout)
    assert summary["total"]["dead_lettered"] == len(copy.produced.invalid)
    assert summary["total"]["bronze_rows"] == len(copy.produced.valid)
    counts = json.loads(nexus("topics", "counts", "--json").stdout)
    assert (
        counts["total"] == sum(counts["topics"].values()) == len(copy.produced.valid | copy.produced.invalid)
    )
    asyncio.run(loosen_orders(copy.registry))
    replayed = nexus("dlq", "redrive", "--entity", "orders")
    assert replayed.returncode == 0, replayed.stderr
    assert f"{len(bad_ids_from_lake(copy)):,} of" in replayed.stdout
    before = lake_files(copy.lake)
    planned = nexus(
        "reprocess",
        "--topic",
        ORDERS,
        "--partition",
        "0",
        "--from-offset",
        "0",
        "--to-offset",
        "5",
        "--dry-run",
    )
    assert planned.returncode == 0, planned.stderr
    assert "would be rebuilt" in planned.stdout and "replaces bronze/orders/" in planned.stdout
    assert lake_files(copy.lake) == before, "a dry run changes nothing"
    rebuilt = nexus(
        "reprocess", "--topic", ORDERS, "--partition", "0", "--from-offset", "0", "--to-offset", "5"
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "rebuilt" in rebuilt.stdout
    refused = nexus(
        "reprocess", "--topic", ORDERS, "--partition", "0", "--from-offset", "0", "--to-offset", "99999"
    )
    assert refused.returncode == 1 and "running sink" in refused.stderr
    migrated = nexus("state", "migrate")
    assert migrated.returncode == 0 and "up to date" in migrated.stdout, "recording a run migrated it"
    runs = json.loads(nexus("state", "runs", "--json").stdout)
    assert sorted((r["kind"], r["status"]) for r in runs) == [
        ("redrive", "succeeded"),
        ("reprocess", "failed"),  # the refused range; the dry run is no run
        ("reprocess", "succeeded"),
    ]
    redrive = next(r for r in runs if r["kind"] == "redrive")
    assert sum(redrive["summary"]["redriven"].values()) == len(bad_ids_from_lake(copy))
    failed = next(r for r in runs if r["status"] == "failed")
    assert "running sink" in failed["summary"]["error"]


def bad_ids_from_lake(copy: Written) -> set[Coord]:
    remember_kinds(copy.lake, copy.produced)
    return bad_ids(copy.produced, ORDERS)


# ------------------------------------------------------------------------------ S3


def lake_files(lake: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(lake)): p.read_bytes()
        for p in sorted(lake.rglob("*"))
        if p.is_file() and not p.name.startswith(".~")
    }


async def upload(lake: Path, store: ObjectStore) -> None:
    for key, data in lake_files(lake).items():
        await store.put(key, data)


async def s3_coords(store: ObjectStore, prefix: str) -> Counter[Coord]:
    found: Counter[Coord] = Counter()
    for key in await store.list(prefix):
        obj = await store.get(key)
        assert obj is not None
        table = pq.read_table(io.BytesIO(obj.data), columns=["_topic", "_partition", "_offset"])
        for row in zip(*(c.to_pylist() for c in table.columns), strict=True):
            found[(row[0], row[1], row[2])] += 1
    return found


async def test_replay_and_reprocess_on_s3(
    copy: Written, stack: StackInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in stack.env().items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    remember_kinds(copy.lake, copy.produced)
    aws = AwsOptions(region=stack.region, endpoint_url=stack.aws_endpoint_url)
    store = await open_store(f"s3://{stack.bucket}/redrive-{uuid.uuid4().hex[:10]}", aws)
    try:
        await upload(copy.lake, store)
        registry = LocalRegistry(copy.registry)
        await loosen_orders(copy.registry)
        fixed = bad_ids(copy.produced, ORDERS)
        with pytest.raises(Interrupted):
            await redrive_dead_letters(store, registry, options=OPTIONS, after_put=stop_after(1))
        report = await redrive_dead_letters(store, registry, options=OPTIONS)
        assert report.resumed >= 1
        end = checkpoint_offsets(copy.lake)[(ORDERS, 0)] - 1
        await reprocess(
            store,
            registry,
            KafkaRangeReader(copy.broker.bootstrap),
            topic=ORDERS,
            partition=0,
            start=end // 2,
            end=end,
            options=OPTIONS,
        )
        await redrive_dead_letters(store, registry, options=OPTIONS)
        bronze = await s3_coords(store, "bronze/")
        assert not {c: n for c, n in bronze.items() if n > 1}
        assert set(bronze) == copy.produced.valid | fixed
        dead = await s3_coords(store, "dlq/")
        assert not {c: n for c, n in dead.items() if n > 1}
        counts = await list_dead_letters(store)
        assert sum(c.outstanding for c in counts) == len(copy.produced.invalid - fixed)
    finally:
        await store.close()
