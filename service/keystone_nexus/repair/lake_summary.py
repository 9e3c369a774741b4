"""What is in the lake: bronze rows and files per entity, dead letters by reason.

A dead letter that `nexus dlq redrive` has landed in bronze is counted once, as a bronze
row (`dlq_redriven` says how many); `dlq_rows` are the ones still outstanding.
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass, field

import pyarrow.parquet as pq

from keystone_nexus.lake.store import ObjectStore
from keystone_nexus.repair.redrive import redriven_offsets


@dataclass
class LakeSummary:
    bronze_rows: Counter[str] = field(default_factory=Counter)
    bronze_files: Counter[str] = field(default_factory=Counter)
    dlq_rows: Counter[str] = field(default_factory=Counter)
    dlq_reasons: Counter[tuple[str, str]] = field(default_factory=Counter)
    dlq_redriven: Counter[str] = field(default_factory=Counter)


def _entity(key: str) -> str:
    return key.split("/", 2)[1]


async def summarize(store: ObjectStore) -> LakeSummary:
    summary = LakeSummary()
    for key in await store.list("bronze/"):
        if key.endswith(".parquet"):
            found = await store.get(key)
            if found is not None:
                summary.bronze_rows[_entity(key)] += pq.ParquetFile(io.BytesIO(found.data)).metadata.num_rows
                summary.bronze_files[_entity(key)] += 1
    for key in await store.list("dlq/"):
        if key.endswith(".parquet"):
            found = await store.get(key)
            if found is not None:
                table = pq.read_table(io.BytesIO(found.data), columns=["_offset", "reason"])
                redriven = await redriven_offsets(store, key)
                entity = _entity(key)
                for offset, reason in zip(
                    table.column("_offset").to_pylist(), table.column("reason").to_pylist(), strict=True
                ):
                    if offset in redriven:
                        summary.dlq_redriven[entity] += 1
                        continue
                    summary.dlq_rows[entity] += 1
                    summary.dlq_reasons[(entity, str(reason)[:100])] += 1
    return summary
