"""Validate a micro-batch of JSON payloads and turn the valid ones into an Arrow table.

A record is valid here exactly when `keystone_nexus.contracts.validate.check` accepts
`orjson.loads(payload)`; the one exception is an integer that JSON Schema accepts but a
64-bit column cannot hold (2**63, or 1e20 written for an integer), which is rejected
with that reason rather than dropped or wrapped.

Fast path: the payloads, joined by newlines, are parsed in one
`pyarrow.json.read_json` call with the explicit schema (all columns nullable, unknown
fields an error), then vectorised pyarrow.compute checks flag *suspect* rows: nulls where
null is not allowed (a missing key is null too), non-finite numbers, enums, bounds,
lengths and patterns. Only suspects are looked at one by one, with the compiled
fastjsonschema validator, which decides and gives the reason; so a check here may be
stricter than JSON Schema but never laxer.

Fallback: when read_json cannot take the whole batch (it fails, the row count is off,
or a precondition below is not met), each payload is parsed with orjson, which decides
"not JSON"; the records whose keys and value types read_json takes go through the fast
path again, without the payloads that broke it; the others (the bad ones, and valid
oddities such as 5.0 for an integer) are judged alone by the validator and, when valid,
converted value by value. The rows are put back in input order; no valid record is
ever lost. (Parsing with orjson and checking key and value types costs about half of
what the validator does per record, which is why it, not the validator, sorts them.)

What read_json does that JSON Schema does not (pyarrow 26, found by the tests), and the
answer to each:
- it reads `NaN`, `Infinity` and `-Infinity` into float columns: non-finite numbers are
  suspects (orjson then calls them not JSON);
- it stores invalid UTF-8 inside strings as is: non-ASCII input is checked with
  `Table.validate(full=True)`, and a failure sends the batch to the fallback;
- it skips empty and blank lines, reads several values from one line (a bare carriage
  return separates values too), reads a top-level `null` as a row of nulls (and
  crashes the process when such a null starts a block), and accepts a UTF-8 BOM: so the
  fast path requires every payload to be non-empty, to start with "{", and to contain
  no raw newline or carriage return, and then requires one row per payload;
- it cannot tell a missing key from an explicit null, and with a non-nullable schema
  field it fails the whole block: columns are parsed as nullable, nulls are suspects
  unless the property may be both absent and null, and the table is cast to the
  declared nullability at the end.
What it refuses (no silent coercion with an explicit schema): strings, booleans, objects
or arrays in a number column, numbers in a string column, unknown fields, numbers beyond
int64 or double - all invalid for JSON Schema too. Valid for JSON Schema but refused by
read_json, so kept by the fallback and converted value by value: `5.0`, `5e0` or `1e2`
for an integer (draft-06+ integers), and duplicate keys (orjson keeps the last value).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import fastjsonschema
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
from numpy.typing import NDArray

from keystone_nexus.contracts.arrow_schema import arrow_schema, json_type, object_properties
from keystone_nexus.contracts.validate import Validator, compiled

__all__ = ["BatchResult", "validate_batch"]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_MIN_BLOCK_SIZE = 1 << 20
_OPEN_BRACE = ord("{")
_NEWLINE = ord("\n")
_RETURN = ord("\r")
_REASON_NAME_CHARS = 80
# Keywords the vectorised checks implement, or that do not constrain values.
_ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "title", "description", "examples", "default"})
_ROOT_KEYWORDS = _ANNOTATIONS | {"type", "properties", "required", "additionalProperties"}
_BOUNDS = ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum")
_PROPERTY_KEYWORDS = _ANNOTATIONS | {"type", "enum", "pattern", "minLength", "maxLength", *_BOUNDS}
_PYTHON_TYPES: dict[pa.DataType, type] = {pa.string(): str, pa.int64(): int, pa.float64(): float}
_JSON_NAMES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


@dataclass(frozen=True, slots=True)
class BatchResult:
    """The outcome of one micro-batch.

    table:   the valid records, in input order, columns exactly the schema's properties
    valid:   int64 indices (into the input list) of the rows in `table`
    invalid: (index, reason) for every invalid record, sorted by index
    """

    table: pa.Table
    valid: NDArray[np.int64]
    invalid: list[tuple[int, str]]


def validate_batch(definition: str, payloads: Sequence[bytes]) -> BatchResult:
    """Check every payload against `definition`; convert the valid ones to a typed table.

    Raises UnsupportedSchemaError when the schema has no flat column shape.
    """
    plan = _plan(definition)
    if not payloads:
        return BatchResult(plan.schema.empty_table(), np.empty(0, dtype=np.int64), [])
    table = _read(plan, payloads)
    if table is not None:
        return _screen(plan, payloads, table)
    return _one_by_one(plan, payloads)


# ------------------------------------------------------------------------------ plan


@dataclass(frozen=True, slots=True)
class _Column:
    """One property and the rules the vectorised checks apply to it."""

    name: str
    kind: str
    null_ok: bool  # absent and null are both valid, so a null row is not suspect
    enum: pa.Array | None = None
    lower: int | float | None = None  # value >= lower (> when lower_strict)
    lower_strict: bool = False
    upper: int | float | None = None
    upper_strict: bool = False
    never: bool = False  # the bounds exclude every int64: every non-null value is suspect
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None


@dataclass(frozen=True, slots=True)
class _Plan:
    schema: pa.Schema  # the result's schema
    parse_schema: pa.Schema  # the same, every column nullable
    parse_options: pj.ParseOptions
    validator: Validator
    columns: tuple[_Column, ...]  # the vectorised rules, when `vectorised`
    required: tuple[str, ...]
    integers: tuple[str, ...]  # the int64 columns
    kinds: dict[str, type]  # column -> the Python type orjson gives its values (str, int, float)
    vectorised: bool  # False when a keyword has no exact vectorised check: every row is a suspect


class _Unsupported(Exception):
    """A keyword or value the vectorised checks do not implement exactly."""


@lru_cache(maxsize=512)
def _plan(definition: str) -> _Plan:
    schema = arrow_schema(definition)
    parsed = orjson.loads(definition)
    properties = object_properties(parsed)
    required = tuple(parsed.get("required", ()))
    parse_schema = pa.schema([f.with_nullable(True) for f in schema])
    try:
        if not set(parsed) <= _ROOT_KEYWORDS:
            raise _Unsupported("schema")
        columns = tuple(_column(name, prop, name in required) for name, prop in properties.items())
    except _Unsupported:
        columns = ()
    return _Plan(
        schema=schema,
        parse_schema=parse_schema,
        parse_options=pj.ParseOptions(
            explicit_schema=parse_schema,
            unexpected_field_behavior="error",
            newlines_in_values=False,
        ),
        validator=compiled(definition),
        columns=columns,
        required=required,
        integers=tuple(f.name for f in schema if pa.types.is_int64(f.type)),
        kinds={f.name: _PYTHON_TYPES[f.type] for f in schema},
        vectorised=bool(columns),
    )


def _column(name: str, prop: dict[str, Any], required: bool) -> _Column:
    if not set(prop) <= _PROPERTY_KEYWORDS:
        raise _Unsupported(name)
    kind, null_typed = json_type(name, prop)
    enum = prop.get("enum")
    enum_array = None
    if enum is not None:
        if kind != "string" or not isinstance(enum, list):
            raise _Unsupported(name)
        enum_array = pa.array([v for v in enum if isinstance(v, str)], pa.string())
    null_ok = null_typed and not required and (enum is None or None in enum)
    column = _Column(name=name, kind=kind, null_ok=null_ok, enum=enum_array)
    if kind == "string":
        return _string_rules(column, prop)
    return _number_rules(column, prop)


def _string_rules(column: _Column, prop: dict[str, Any]) -> _Column:
    lengths = [prop.get("minLength"), prop.get("maxLength")]
    if any(v is not None and (type(v) is not int or v < 0) for v in lengths):
        raise _Unsupported(column.name)
    pattern = prop.get("pattern")
    if pattern is not None and not _re2_agrees(pattern):
        raise _Unsupported(column.name)
    return _replace(column, min_length=lengths[0], max_length=lengths[1], pattern=pattern)


def _number_rules(column: _Column, prop: dict[str, Any]) -> _Column:
    bounds = {k: prop.get(k) for k in _BOUNDS}
    for value in bounds.values():
        if value is not None and (type(value) not in (int, float) or float(value) != value):
            raise _Unsupported(column.name)  # booleans (draft-04 style) or beyond a double
    if column.kind == "number":
        lower, lower_strict = _tighter(bounds["minimum"], bounds["exclusiveMinimum"], max)
        upper, upper_strict = _tighter(bounds["maximum"], bounds["exclusiveMaximum"], min)
        return _replace(
            column, lower=lower, lower_strict=lower_strict, upper=upper, upper_strict=upper_strict
        )
    # Integers: turn every bound into an inclusive int64 bound, exactly.
    lows = [math.ceil(bounds["minimum"])] if bounds["minimum"] is not None else []
    if bounds["exclusiveMinimum"] is not None:
        lows.append(math.floor(bounds["exclusiveMinimum"]) + 1)
    highs = [math.floor(bounds["maximum"])] if bounds["maximum"] is not None else []
    if bounds["exclusiveMaximum"] is not None:
        highs.append(math.ceil(bounds["exclusiveMaximum"]) - 1)
    low = max(lows) if lows else None
    high = min(highs) if highs else None
    if (low is not None and low > INT64_MAX) or (high is not None and high < INT64_MIN):
        return _replace(column, never=True)
    return _replace(
        column,
        lower=low if low is not None and low > INT64_MIN else None,
        upper=high if high is not None and high < INT64_MAX else None,
    )


def _tighter(inclusive: float | None, exclusive: float | None, pick: Any) -> tuple[float | None, bool]:
    if inclusive is None or exclusive is None:
        return (inclusive, False) if exclusive is None else (exclusive, True)
    tightest = pick(inclusive, exclusive)
    return tightest, tightest == exclusive


def _replace(column: _Column, **changes: Any) -> _Column:
    values = {name: getattr(column, name) for name in column.__slots__}
    values.update(changes)
    return _Column(**values)


_LETTER_ESCAPE = re.compile(r"\\[0-9A-Za-z]")


def _re2_agrees(pattern: Any) -> bool:
    """Whether RE2 searches `pattern` exactly as fastjsonschema does (Python `re`, `$` read as `\\Z`).

    Allowed: printable ASCII, literal characters, classes, groups, alternation,
    quantifiers, anchors and escaped punctuation. Not: letter or digit escapes (\\d, \\w
    and \\b are Unicode-aware in Python), (?...) groups, {,n}, POSIX classes, `$` inside a
    class. Finally the pattern must compile in RE2.
    """
    if not isinstance(pattern, str) or not all(" " <= ch <= "~" for ch in pattern):
        return False
    if _LETTER_ESCAPE.search(pattern) or "(?" in pattern or "{," in pattern or "[:" in pattern:
        return False
    escaped = in_class = False
    for ch in pattern:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "[":
            in_class = True
        elif ch == "]":
            in_class = False
        elif ch == "$" and in_class:
            return False
    try:
        pc.match_substring_regex(pa.array([""], pa.string()), pattern)
    except (pa.ArrowException, ValueError):
        return False
    return True


# ------------------------------------------------------------------------- fast path


def _read(plan: _Plan, payloads: Sequence[bytes]) -> pa.Table | None:
    """All payloads as one table (nullable columns), or None when the fast path cannot be trusted."""
    n = len(payloads)
    if n == 0:
        return plan.parse_schema.empty_table()
    lengths = np.fromiter(map(len, payloads), dtype=np.int64, count=n)
    if lengths.min() == 0:
        return None
    joined = b"\n".join(payloads)
    if joined.count(b"\n") != n - 1 or b"\r" in joined:
        return None
    starts = np.zeros(n, dtype=np.int64)
    np.cumsum(lengths[:-1] + 1, out=starts[1:])
    if not bool((np.frombuffer(joined, dtype=np.uint8)[starts] == _OPEN_BRACE).all()):
        return None  # also keeps a top-level null, which crashes read_json, out of it
    block_size = max(_MIN_BLOCK_SIZE, int(lengths.max()) + 2)
    try:
        table = pj.read_json(
            pa.BufferReader(joined),
            read_options=pj.ReadOptions(block_size=block_size, use_threads=True),
            parse_options=plan.parse_options,
        )
        if not joined.isascii():
            table.validate(full=True)  # invalid UTF-8 inside strings
    except (pa.ArrowException, ValueError):
        return None
    if table.num_rows != n:
        return None
    return table.select(plan.schema.names)


def _screen(plan: _Plan, payloads: Sequence[bytes], table: pa.Table) -> BatchResult:
    suspect = _suspects(plan, table)
    if suspect is None:
        return BatchResult(_finish(plan, table), np.arange(len(payloads), dtype=np.int64), [])
    keep = ~suspect
    invalid: list[tuple[int, str]] = []
    for index in np.flatnonzero(suspect).tolist():
        reason = _judge(plan, payloads[index])
        if reason is None:
            keep[index] = True
        else:
            invalid.append((index, reason))
    if invalid:
        table = table.filter(pa.array(keep))
    return BatchResult(_finish(plan, table), np.flatnonzero(keep).astype(np.int64), invalid)


def _suspects(plan: _Plan, table: pa.Table) -> NDArray[np.bool_] | None:
    """A mask of the rows some check flags, or None when no row is flagged."""
    if not plan.vectorised:
        return np.ones(table.num_rows, dtype=np.bool_)
    flags = [flag for column in plan.columns for flag in _flags(column, table.column(column.name))]
    if not flags:
        return None
    combined = flags[0]
    for flag in flags[1:]:
        combined = pc.or_(combined, flag)
    if not pc.any(combined).as_py():
        return None
    mask: NDArray[np.bool_] = np.asarray(combined.to_numpy(zero_copy_only=False), dtype=np.bool_)
    return mask


def _flags(column: _Column, values: pa.ChunkedArray) -> list[pa.ChunkedArray]:
    """Boolean arrays, true where a row breaks a rule of this column (never null)."""
    flags = []
    if not column.null_ok and values.null_count:
        flags.append(pc.is_null(values))
    if column.kind == "number":
        flags.append(_not(pc.is_finite(values)))
    if column.never:
        flags.append(pc.is_valid(values))
    if column.enum is not None:
        flags.append(pc.and_(pc.is_valid(values), pc.invert(pc.is_in(values, value_set=column.enum))))
    if column.lower is not None:
        below = pc.less_equal if column.lower_strict else pc.less
        flags.append(_true(below(values, _scalar(column.lower, column.kind))))
    if column.upper is not None:
        above = pc.greater_equal if column.upper_strict else pc.greater
        flags.append(_true(above(values, _scalar(column.upper, column.kind))))
    if column.min_length is not None or column.max_length is not None:
        length = pc.utf8_length(values)
        if column.min_length is not None:
            flags.append(_true(pc.less(length, column.min_length)))
        if column.max_length is not None:
            flags.append(_true(pc.greater(length, column.max_length)))
    if column.pattern is not None:
        flags.append(_not(pc.match_substring_regex(values, column.pattern)))
    return flags


def _scalar(value: float, kind: str) -> pa.Scalar:
    return pa.scalar(value, pa.int64() if kind == "integer" else pa.float64())


def _true(condition: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.fill_null(condition, False)


def _not(condition: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.fill_null(pc.invert(condition), False)


def _finish(plan: _Plan, table: pa.Table) -> pa.Table:
    """The table with the declared nullability (the parse schema is all nullable)."""
    return table.cast(plan.schema)


# -------------------------------------------------------------------------- fallback


def _one_by_one(plan: _Plan, payloads: Sequence[bytes]) -> BatchResult:
    """Set aside, one by one, the payloads read_json would refuse; read the rest together.

    Each payload is parsed with orjson (which decides "not JSON"); a record whose keys
    and value types read_json takes goes back to the fast path, now without the payloads
    that broke it; the others (the bad ones, and oddities such as 5.0 for an integer)
    are judged alone by the validator and, when valid, converted value by value.
    """
    invalid: list[tuple[int, str]] = []
    readable: list[int] = []
    records: list[Any] = []
    alone: list[int] = []  # indices into `records`
    for index, payload in enumerate(payloads):
        try:
            record = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            invalid.append((index, f"not JSON: {exc}"))
            continue
        if _readable(plan, payload, record):
            readable.append(len(records))
        else:
            alone.append(len(records))
        records.append((index, record))
    parts: list[tuple[NDArray[np.int64], pa.Table]] = []
    subset = [payloads[records[i][0]] for i in readable]
    table = _read(plan, subset)
    if table is None:  # a duplicate key, say: judge these alone too
        alone = sorted(alone + readable)
    else:
        screened = _screen(plan, subset, table)
        indices = np.asarray([records[i][0] for i in readable], dtype=np.int64)
        invalid += [(int(indices[i]), reason) for i, reason in screened.invalid]
        parts.append((indices[screened.valid], screened.table))
    converted: list[int] = []
    for i in alone:
        index, record = records[i]
        reason = _verdict(plan, record) or _unrepresentable(plan, record)
        if reason is None:
            converted.append(i)
        else:
            invalid.append((index, reason))
    if converted:
        indices = np.asarray([records[i][0] for i in converted], dtype=np.int64)
        parts.append((indices, _convert(plan, [records[i][1] for i in converted])))
    table, valid = _merge(plan, parts)
    return BatchResult(table, valid, sorted(invalid))


def _readable(plan: _Plan, payload: bytes, record: Any) -> bool:
    """Whether read_json takes this payload alone and reads it as orjson did."""
    if type(record) is not dict or payload[:1] != b"{" or _NEWLINE in payload or _RETURN in payload:
        return False  # (an int operand makes `in` a memchr, several times faster than b"\n")
    kinds = plan.kinds
    for key, value in record.items():
        kind = kinds.get(key)
        actual = type(value)
        if actual is not kind:
            if kind is None or not (value is None or (kind is float and actual is int)):
                return False
        elif actual is int and not INT64_MIN <= value <= INT64_MAX:
            return False
    return True


def _merge(
    plan: _Plan, parts: list[tuple[NDArray[np.int64], pa.Table]]
) -> tuple[pa.Table, NDArray[np.int64]]:
    """Tables of rows at the given input indices, as one table in input order."""
    if not parts:
        return plan.schema.empty_table(), np.empty(0, dtype=np.int64)
    if len(parts) == 1:
        return parts[0][1], parts[0][0]
    indices = np.concatenate([part[0] for part in parts])
    order = np.argsort(indices, kind="stable")
    table = pa.concat_tables([part[1] for part in parts]).take(pa.array(order))
    return table, indices[order]


def _judge(plan: _Plan, payload: bytes) -> str | None:
    """Why the payload is invalid, or None."""
    try:
        record = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        return f"not JSON: {exc}"
    return _verdict(plan, record)


def _verdict(plan: _Plan, record: Any) -> str | None:
    """Why the validator rejects the record, or None."""
    try:
        plan.validator(record)
    except fastjsonschema.JsonSchemaValueException as exc:
        return _reason(plan, exc, record)
    return None


def _unrepresentable(plan: _Plan, record: dict[str, Any]) -> str | None:
    """Why a valid record has no row in the table: an integer beyond int64."""
    for name in plan.integers:
        value = record.get(name)
        if value is not None and not INT64_MIN <= int(value) <= INT64_MAX:
            return f"{name}: {value!r} does not fit in a 64-bit integer column"
    return None


def _convert(plan: _Plan, records: list[dict[str, Any]]) -> pa.Table:
    """Valid records to a table, value by value (ints written as 5.0 become 5)."""
    arrays = []
    for field in plan.schema:
        values = [record.get(field.name) for record in records]
        if pa.types.is_int64(field.type):
            values = [v if v is None or type(v) is int else int(v) for v in values]
        elif pa.types.is_float64(field.type):
            values = [v if v is None else float(v) for v in values]
        arrays.append(pa.array(values, field.type))
    return pa.Table.from_arrays(arrays, schema=plan.schema)


def _reason(plan: _Plan, exc: fastjsonschema.JsonSchemaValueException, record: Any) -> str:
    """A reason that names the field and the rule, e.g. "review_score: must be smaller than or equal to 5"."""
    path = [str(p) for p in (exc.path or [])[1:]]
    message = str(exc.message or "invalid")
    if path:
        prefix = f"{exc.name} "
        detail = message[len(prefix) :] if message.startswith(prefix) else message
        return f"{'.'.join(path)}: {detail}"
    if not isinstance(record, dict):
        return f"not a JSON object: {_JSON_NAMES.get(type(record), 'null')}"
    if exc.rule == "required":
        missing = [name for name in plan.required if name not in record]
        return f"missing required field{'s' if len(missing) > 1 else ''} {_names(missing)}"
    if exc.rule == "additionalProperties":
        known = set(plan.schema.names)
        extra = [key for key in record if key not in known]
        return f"unexpected field{'s' if len(extra) > 1 else ''} {_names(extra)}"
    return message.replace("data ", "", 1)


def _names(names: list[str]) -> str:
    shown = [repr(n) if len(n) <= _REASON_NAME_CHARS else repr(n[:_REASON_NAME_CHARS] + "...") for n in names]
    return ", ".join(shown[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
