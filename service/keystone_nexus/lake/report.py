"""What is in the lake: bronze rows and files per entity, dead letters by reason."""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass, field

import pyarrow.parquet as pq

from keystone_nexus.lake.store import ObjectStore


@dataclass
class LakeSummary:
    bronze_rows: Counter[str] = field(default_factory=Counter)
    bronze_files: Counter[str] = field(default_factory=Counter)
    dlq_rows: Counter[str] = field(default_factory=Counter)
    dlq_reasons: Counter[tuple[str, str]] = field(default_factory=Counter)


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
                reasons = (
                    pq.read_table(io.BytesIO(found.data), columns=["reason"]).column("reason").to_pylist()
                )
                summary.dlq_rows[_entity(key)] += len(reasons)
                for reason in reasons:
                    summary.dlq_reasons[(_entity(key), str(reason)[:100])] += 1
    return summary
