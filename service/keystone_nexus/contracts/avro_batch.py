"""Decode a micro-batch of AVRO payloads, check them, and turn the valid ones into an Arrow table.

The AVRO counterpart of `validate_batch`: same BatchResult (valid rows in input order,
`valid` their int64 indices, `invalid` sorted (index, reason) pairs), same rules.

Decoding. A payload is schemaless Avro binary (what the AWS serdes write after the
18-byte Glue header) and the registry version's definition is its writer schema. Each
payload is read alone with fastavro's `schemaless_reader` (the parsed schema is cached
per definition text); every error fastavro raises (truncated input, a bad union index
or length, invalid UTF-8, ...) makes the record invalid with "not Avro: ...", and so do
bytes left over after the record.

Rules. Avro types say nothing of enums, bounds, lengths or patterns, so the records are
checked against a JSON Schema, `rules`: the sink passes the entity's *current* JSON
Schema (`keystone_nexus.contracts.avro_schema.rules_schema(entity)`), whatever the Avro version,
and the table's columns are that schema's properties (Avro field names are the column
names). A decoded record is valid exactly when the compiled validator
(`keystone_nexus.contracts.validate.compiled(rules)`) accepts it and its numbers are finite (Avro
can carry NaN and infinities, JSON cannot, so the rules never meant to admit them).
Without `rules`, the writer schema alone decides: its fields become the columns (string
-> string, int/long -> int64, float/double -> float64, a union with null -> nullable)
and every record that decodes is valid.

Fast path: when every field of the writer schema is a column of the rules with a
matching type (string -> string, int/long -> integer, int/long/float/double -> number,
each possibly in a union with null), the decoded dicts become one table
(`pa.Table.from_pylist` with the rules' Arrow schema, every column nullable) and the
vectorised checks of `validate_batch` flag *suspect* rows; only suspects are judged one
by one by the validator, which gives the reason. Any other writer schema (an extra
field, a boolean, bytes, a nested record, a logical type, ...) sends every record to the
validator one by one, and the valid ones are converted value by value. A writer schema
with an array or a map is refused outright (no column can hold one, and a forged block
count could make the reader allocate without bound).

Raises UnsupportedSchemaError (AvroSchemaError when the writer schema is at fault)
when the version cannot be read as columns: fatal for every record of that version.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
from fastavro import schemaless_reader
from fastavro.schema import parse_schema
from fastavro.types import Schema
from numpy.typing import NDArray

from keystone_nexus.contracts.arrow_schema import UnsupportedSchemaError
from keystone_nexus.contracts.validate_batch import (
    BatchResult,
    _convert,
    _finish,
    _Plan,
    _plan,
    _suspects,
    _unrepresentable,
    _verdict,
)

__all__ = ["AvroSchemaError", "avro_batch"]

# Avro primitive -> the JSON Schema type of its decoded values.
_AVRO_JSON_TYPES = {
    "string": "string",
    "int": "integer",
    "long": "integer",
    "float": "number",
    "double": "number",
}
# JSON Schema type of a rules column -> the Avro primitives whose values it takes as they are.
_FITS = {
    "string": frozenset({"string"}),
    "integer": frozenset({"int", "long"}),
    "number": frozenset({"int", "long", "float", "double"}),
}
# Valid indices (int64), their table, and the (index, reason) of the records rejected.
_Checked = tuple[NDArray[np.int64], pa.Table, list[tuple[int, str]]]


class AvroSchemaError(UnsupportedSchemaError):
    """A writer schema the sink cannot read; the message names the part.

    Fatal for every record of that schema version: register an Avro record schema
    (see `keystone_nexus.contracts.avro_schema`) instead.
    """


def avro_batch(definition: str, payloads: Sequence[bytes], *, rules: str | None = None) -> BatchResult:
    """Decode every payload with the writer schema `definition`, check it against `rules`
    (a JSON Schema text; the sink passes the entity's current JSON Schema) and convert
    the valid records to a typed table.

    Without `rules`, the writer schema's fields are the columns and decoding decides.
    """
    schema = _writer(definition)
    plan = _plan(rules if rules is not None else _derived_rules(definition))
    if not payloads:
        return BatchResult(plan.schema.empty_table(), np.empty(0, dtype=np.int64), [])
    indices, records, invalid = _decode(schema, payloads)
    if _fits(definition, rules):
        result = _vectorised(plan, indices, records)
        if result is not None:
            valid, table, rejected = result
            return BatchResult(table, valid, sorted(invalid + rejected))
    valid, table, rejected = _one_by_one(plan, indices, records)
    return BatchResult(table, valid, sorted(invalid + rejected))


# ---------------------------------------------------------------------------- writer


@lru_cache(maxsize=512)
def _writer(definition: str) -> Schema:
    """The writer schema, parsed by fastavro once per definition text."""
    try:
        schema = orjson.loads(definition)
        parsed = parse_schema(schema)
    except Exception as exc:  # fastavro raises several unrelated types for bad schemas
        raise AvroSchemaError(f"not an Avro schema: {exc}") from exc
    if _has_container(schema):
        # Never a column, and a forged block count of items that take no bytes (null, say)
        # would make the reader build a list of billions of items.
        raise AvroSchemaError("the writer schema has an array or a map; columns are strings and numbers only")
    return parsed


def _has_container(schema: Any) -> bool:
    if isinstance(schema, dict):
        if schema.get("type") in ("array", "map"):
            return True
        return any(_has_container(value) for key, value in schema.items() if key != "default")
    if isinstance(schema, list):
        return any(_has_container(value) for value in schema)
    return False


@lru_cache(maxsize=512)
def _derived_rules(definition: str) -> str:
    """A JSON Schema with one property per field of a flat Avro record writer schema."""
    schema = orjson.loads(definition)
    if not isinstance(schema, dict) or schema.get("type") != "record":
        raise AvroSchemaError('the writer schema must be an Avro record ({"type": "record", ...})')
    properties: dict[str, Any] = {}
    for field in schema.get("fields", []):
        primitive, nullable = _field_type(field)
        if primitive not in _AVRO_JSON_TYPES:
            raise AvroSchemaError(
                f"field {field.get('name')!r} has type {field.get('type')!r}; supported: string, int, "
                "long, float, double, optionally in a union with null"
            )
        kind = _AVRO_JSON_TYPES[primitive]
        properties[field["name"]] = {"type": [kind, "null"] if nullable else kind}
    return orjson.dumps(
        {
            "type": "object",
            "properties": properties,
            "required": list(properties),
            "additionalProperties": False,
        }
    ).decode()


def _field_type(field: Any) -> tuple[str | None, bool]:
    """(the field's Avro primitive, or None when it is not one; whether it may be null)."""
    declared = field.get("type") if isinstance(field, dict) else None
    nullable = False
    if isinstance(declared, list):
        others = [t for t in declared if t != "null"]
        if len(others) != 1 or len(declared) != 2:
            return None, False
        declared, nullable = others[0], True
    if isinstance(declared, dict) and "logicalType" not in declared:
        declared = declared.get("type")
    return (declared if isinstance(declared, str) else None), nullable


@lru_cache(maxsize=512)
def _fits(definition: str, rules: str | None) -> bool:
    """Whether every decoded record has only columns of `rules`, with values of the column's type."""
    if rules is None:
        return True  # the rules derived from the writer schema fit it by construction
    writer = orjson.loads(definition)
    properties = orjson.loads(rules).get("properties", {})
    if not isinstance(writer, dict) or writer.get("type") != "record":
        return False
    for field in writer.get("fields", []):
        primitive, _ = _field_type(field)
        prop = properties.get(field.get("name"))
        kind = _column_kind(prop)
        if primitive is None or kind is None or primitive not in _FITS[kind]:
            return False
    return True


def _column_kind(prop: Any) -> str | None:
    declared = prop.get("type") if isinstance(prop, dict) else None
    kinds = [t for t in (declared if isinstance(declared, list) else [declared]) if t != "null"]
    return kinds[0] if len(kinds) == 1 and kinds[0] in _FITS else None


# ---------------------------------------------------------------------------- decode


def _decode(schema: Schema, payloads: Sequence[bytes]) -> tuple[list[int], list[Any], list[tuple[int, str]]]:
    """(input indices of the decoded records, the records, (index, reason) of the others)."""
    indices: list[int] = []
    records: list[Any] = []
    invalid: list[tuple[int, str]] = []
    for index, payload in enumerate(payloads):
        stream = io.BytesIO(payload)
        try:
            record = schemaless_reader(stream, schema, None)
        except Exception as exc:  # any error fastavro raises means the bytes are not this schema's Avro
            invalid.append((index, f"not Avro: {type(exc).__name__}: {exc}"))
            continue
        left = len(payload) - stream.tell()
        if left:
            invalid.append(
                (index, f"not Avro: {left} trailing byte{'s' if left > 1 else ''} after the record")
            )
            continue
        indices.append(index)
        records.append(record)
    return indices, records, invalid


# ------------------------------------------------------------------------------ check


def _vectorised(plan: _Plan, indices: list[int], records: list[Any]) -> _Checked | None:
    """Valid indices, their table and the rejected records; None when pyarrow refuses the values."""
    try:
        table = pa.Table.from_pylist(records, schema=plan.parse_schema)
    except (pa.ArrowException, ValueError, TypeError):
        return None
    order = np.asarray(indices, dtype=np.int64)
    suspect = _suspects(plan, table)
    if suspect is None:
        return order, _finish(plan, table), []
    keep = ~suspect
    rejected: list[tuple[int, str]] = []
    for row in np.flatnonzero(suspect).tolist():
        reason = _judge(plan, records[row])
        if reason is None:
            keep[row] = True
        else:
            rejected.append((indices[row], reason))
    if rejected:
        table = table.filter(pa.array(keep))
    return order[keep], _finish(plan, table), rejected


def _one_by_one(plan: _Plan, indices: list[int], records: list[Any]) -> _Checked:
    """Judge each record with the validator; convert the valid ones value by value."""
    valid: list[int] = []
    kept: list[dict[str, Any]] = []
    rejected: list[tuple[int, str]] = []
    for index, record in zip(indices, records, strict=True):
        reason = _judge(plan, record) or _unrepresentable(plan, record)
        if reason is None:
            valid.append(index)
            kept.append(record)
        else:
            rejected.append((index, reason))
    table = _convert(plan, kept) if kept else plan.schema.empty_table()
    return np.asarray(valid, dtype=np.int64), table, rejected


def _judge(plan: _Plan, record: Any) -> str | None:
    """Why the decoded record is invalid, or None."""
    if not isinstance(record, dict):
        return f"not a record: the writer schema decodes to {type(record).__name__}"
    for name, value in record.items():
        if type(value) is float and not math.isfinite(value):
            return f"{name}: {value} is not a finite number (JSON has no NaN or infinity)"
    return _verdict(plan, record)
