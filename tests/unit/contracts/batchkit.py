"""The oracle the validate_batch tests judge by, shared by test_validate_batch (its
properties under random mutations) and test_validate_batch_rules (each rule, coercion and
schema shape by example).

The oracle is `orjson.loads` + `validate.check` per payload (plus: integers must fit
int64, the one documented difference); a batch must reject exactly the payloads the
oracle rejects, keep the others in input order, and give them the values orjson reads
(integers as int64, numbers as float64).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from keystone_nexus.contracts import entities as contracts
from keystone_nexus.contracts import json_schema as schemas
from keystone_nexus.contracts.arrow_schema import arrow_schema
from keystone_nexus.contracts.entities import EntitySpec
from keystone_nexus.contracts.validate import RecordInvalid, check
from keystone_nexus.contracts.validate_batch import BatchResult
from keystone_nexus.olist.generate import build_tables

Record = dict[str, Any]
ENTITIES = contracts.entities()
INT64_MAX = 2**63 - 1
RAW = "\x00raw\x00"


@functools.cache
def samples() -> dict[str, list[Record]]:
    tables = build_tables(scale=0.005, seed=3)
    return {name: table.slice(0, 80).to_pylist() for name, table in tables.items()}


@functools.cache
def definition(entity: EntitySpec) -> str:
    return schemas.definition(schemas.entity_schema(entity))


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def accepts(definition: str, payload: bytes) -> bool:
    """The oracle: what validate.check says about orjson.loads(payload) - and, the one
    documented exception, an integer must fit the int64 column."""
    try:
        record = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return False
    try:
        check(definition, record)
    except RecordInvalid:
        return False
    integers = [f.name for f in arrow_schema(definition) if pa.types.is_int64(f.type)]
    return all(record.get(name) is None or -(2**63) <= int(record[name]) <= INT64_MAX for name in integers)


def expected_row(definition: str, payload: bytes) -> Record:
    record = orjson.loads(payload)
    row: Record = {}
    for field in arrow_schema(definition):
        value = record.get(field.name)
        if value is not None and pa.types.is_int64(field.type):
            value = int(value)
        elif value is not None and pa.types.is_float64(field.type):
            value = float(value)
        row[field.name] = value
    return row


def assert_agrees(definition: str, payloads: Sequence[bytes], result: BatchResult) -> None:
    rejected = [i for i, p in enumerate(payloads) if not accepts(definition, p)]
    assert [i for i, _ in result.invalid] == rejected
    assert all(isinstance(reason, str) and reason for _, reason in result.invalid)
    kept = sorted(set(range(len(payloads))) - set(rejected))
    assert result.valid.dtype == np.int64
    assert result.valid.tolist() == kept
    assert result.table.schema == arrow_schema(definition)
    assert result.table.num_rows == len(kept)
    assert result.table.to_pylist() == [expected_row(definition, payloads[i]) for i in kept]


def with_raw(record: Record, name: str, raw: bytes) -> bytes:
    """`record` as JSON with the value of `name` written as the raw bytes `raw`."""
    return dumps({**record, name: RAW}).replace(dumps(RAW), raw)
