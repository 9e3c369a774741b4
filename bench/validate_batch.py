"""Micro-benchmark: validate + convert order_items payloads, vectorised vs per record.

    .venv/bin/python bench/validate_batch.py [--records 200000] [--bad 0.001] [--repeat 3]

Prints records/s (best of --repeat) for
- `validate_batch` (read_json + pyarrow.compute checks, per-record fallback when a batch
  has a record read_json refuses), in micro-batches and as one batch;
- the per-record baseline: `orjson.loads` + the compiled fastjsonschema validator, alone
  and followed by `pa.Table.from_pylist` for the valid records (the same output);
with 0% and --bad invalid records. Asserts nothing about time; it does check that both
paths find the same invalid records.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import fastjsonschema
import numpy as np
import orjson
import pyarrow as pa

from keystone_nexus.contracts import entities as contracts
from keystone_nexus.contracts import json_schema as schemas
from keystone_nexus.contracts.arrow_schema import arrow_schema
from keystone_nexus.contracts.validate import compiled
from keystone_nexus.contracts.validate_batch import validate_batch
from keystone_nexus.olist.generate import build_tables

ENTITY = contracts.entity("order_items")
# The ways a payload goes bad here; most make read_json refuse the whole batch.
MUTATIONS: tuple[Callable[[dict[str, Any]], bytes], ...] = (
    lambda r: orjson.dumps({**r, "price": -1.0}),
    lambda r: orjson.dumps({**r, "order_item_id": 0}),
    lambda r: orjson.dumps({**r, "coupon": "X"}),
    lambda r: orjson.dumps({**r, "price": str(r["price"])}),
    lambda r: orjson.dumps({k: v for k, v in r.items() if k != "seller_id"}),
    lambda r: orjson.dumps({**r, "order_id": "not-an-md5"}),
    lambda r: orjson.dumps(r)[:-7],
    lambda r: b"\x00\xff garbage",
)


def payloads(records: int, bad: float, seed: int = 42) -> tuple[list[bytes], int]:
    """`records` order_items payloads with a fraction `bad` broken; (payloads, how many broken)."""
    table = build_tables(scale=records / 110_000 * 1.05, seed=seed)[ENTITY.name].slice(0, records)
    rows = table.to_pylist()
    out = [orjson.dumps(r) for r in rows]
    count = round(len(out) * bad)
    rng = np.random.default_rng(seed)
    for n, index in enumerate(rng.choice(len(out), size=count, replace=False).tolist()):
        out[index] = MUTATIONS[n % len(MUTATIONS)](rows[index])
    return out, count


def vectorised(definition: str, batch: Sequence[bytes], size: int) -> int:
    invalid = 0
    for start in range(0, len(batch), size):
        invalid += len(validate_batch(definition, batch[start : start + size]).invalid)
    return invalid


def per_record(definition: str, batch: Sequence[bytes], size: int, *, table: bool) -> int:
    validator = compiled(definition)
    schema = arrow_schema(definition)
    invalid = 0
    for start in range(0, len(batch), size):
        good = []
        for payload in batch[start : start + size]:
            try:
                record = orjson.loads(payload)
                validator(record)
            except (orjson.JSONDecodeError, fastjsonschema.JsonSchemaValueException):
                invalid += 1
                continue
            good.append(record)
        if table:
            pa.Table.from_pylist(good, schema=schema)
    return invalid


def best_rate(run: Callable[[], int], records: int, repeat: int) -> tuple[float, int]:
    best, invalid = float("inf"), 0
    for _ in range(repeat):
        start = time.perf_counter()
        invalid = run()
        best = min(best, time.perf_counter() - start)
    return records / best, invalid


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--bad", type=float, default=0.001, help="fraction of invalid payloads")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[10_000, 0], help="0: one batch")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    definition = schemas.definition(schemas.entity_schema(ENTITY))
    print(f"{args.records} order_items payloads; best of {args.repeat}; records/s")
    print(f"{'bad':>6} {'batch':>8} {'vectorised':>12} {'per-record check':>17} {'+ from_pylist':>14}")
    for bad in (0.0, args.bad):
        batch, broken = payloads(args.records, bad)
        for size in args.batch_sizes:
            size = size or len(batch)
            fast, found = best_rate(partial(vectorised, definition, batch, size), len(batch), args.repeat)
            check_only = partial(per_record, definition, batch, size, table=False)
            slow, expected = best_rate(check_only, len(batch), args.repeat)
            with_table = partial(per_record, definition, batch, size, table=True)
            full, _ = best_rate(with_table, len(batch), args.repeat)
            agree = "" if found == expected == broken else f"  MISMATCH: {found} vs {expected} vs {broken}"
            print(f"{bad:>6.2%} {size:>8} {fast:>12,.0f} {slow:>17,.0f} {full:>14,.0f}{agree}")


if __name__ == "__main__":
    main()
