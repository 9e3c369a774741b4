"""The ingestion servers' event checks, derived from the proto options via contracts.

The same rules, in the same order and with the same reasons, as the C++ server's
`src/validation.cc`: the envelope (event_id, a payload, an entity that is known and
matches the payload), then each field's `(field)` rules from options.proto (required,
format, enum, maxLength in code points, inclusive bounds, finite numbers). proto3 cannot
tell an unset plain field from its default, so a required string must be non-empty and a
required number is always present. Reasons read `<column>: <what is wrong>`.

Pure: an Event in, (entity, record dict in field order) or a reason out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from google.protobuf.message import Message

from keystone.olist.v1 import olist_pb2
from keystone_nexus.contracts.entities import EntitySpec, FieldSpec, FieldType, entities
from keystone_nexus.contracts.json_schema import FORMAT_PATTERNS

Record = dict[str, Any]

FORMAT_DESCRIPTIONS: dict[str, str] = {
    "timestamp": "a timestamp YYYY-MM-DD HH:MM:SS",
    "md5_id": "an md5_id (32 lower-case hex characters)",
    "zip_prefix": "a zip_prefix (5 digits)",
    "state": "a state (two upper-case letters)",
}

_QUOTE_MAX_BYTES = 40


def quote(value: str) -> str:
    """A value quoted in a reason: at most 40 bytes of UTF-8, cut on a character boundary."""
    raw = value.encode()
    if len(raw) <= _QUOTE_MAX_BYTES:
        return f'"{value}"'
    return '"' + raw[:_QUOTE_MAX_BYTES].decode(errors="ignore") + '..."'


def number_text(value: float) -> str:
    """The shortest text that reads back as `value`, fixed or scientific, whichever is
    shorter (fixed on a tie), as C++'s std::to_chars writes it: "0", "-0.5", "1e+20"."""
    if not math.isfinite(value):
        return repr(value)
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    point = len(text) + exponent  # position of the decimal point in `text`
    if point <= 0:
        fixed = "0." + "0" * -point + text
    elif point >= len(text):
        fixed = text + "0" * (point - len(text))
    else:
        fixed = text[:point] + "." + text[point:]
    sci_exp = point - 1
    mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
    scientific = f"{mantissa}e{'-' if sci_exp < 0 else '+'}{abs(sci_exp):02d}"
    best = fixed if len(fixed) <= len(scientific) else scientific
    return ("-" if sign and value != 0 else "") + best


Check = Callable[[Any], str]


def _string_check(spec: FieldSpec) -> Check:
    pattern = re.compile(FORMAT_PATTERNS[spec.format]) if spec.format else None
    what = FORMAT_DESCRIPTIONS.get(spec.format, "")
    allowed = frozenset(spec.enum)
    listed = ", ".join(spec.enum)
    name, required, max_length = spec.name, spec.required, spec.max_length

    def check(value: str) -> str:
        if not value and required:
            return f"{name}: is required"
        if pattern is not None and pattern.fullmatch(value) is None:
            return f"{name}: must be {what}, got {quote(value)}"
        if allowed and value not in allowed:
            return f"{name}: must be one of {listed}, got {quote(value)}"
        if max_length is not None and len(value) > max_length:
            return f"{name}: longer than {max_length} characters"
        return ""

    return check


def _number_check(spec: FieldSpec) -> Check:
    name, minimum, maximum = spec.name, spec.minimum, spec.maximum

    def check(value: float) -> str:
        if not math.isfinite(value):
            return f"{name}: must be a finite number"
        if minimum is not None and value < minimum:
            return f"{name}: {number_text(value)} is less than the minimum {number_text(minimum)}"
        if maximum is not None and value > maximum:
            return f"{name}: {number_text(value)} is more than the maximum {number_text(maximum)}"
        return ""

    return check


@dataclass(frozen=True, slots=True)
class FieldRule:
    name: str
    required: bool
    has_presence: bool
    check: Check


@dataclass(frozen=True, slots=True)
class EntityRules:
    """One entity's checks, built once from its contract."""

    spec: EntitySpec
    enum_name: str
    fields: tuple[FieldRule, ...]

    def record(self, message: Message) -> Record | str:
        """The record as a dict in field order (unset optionals None), or the first reason."""
        record: Record = {}
        for rule in self.fields:
            if rule.has_presence and not message.HasField(rule.name):
                if rule.required:
                    return f"{rule.name}: is required"
                record[rule.name] = None
                continue
            value = getattr(message, rule.name)
            reason = rule.check(value)
            if reason:
                return reason
            record[rule.name] = value
        return record


def _entity_rules(spec: EntitySpec) -> EntityRules:
    descriptor = spec.message_class().DESCRIPTOR
    rules = []
    for field in spec.fields:
        fd = descriptor.fields_by_name[field.name]
        check = _string_check(field) if field.type is FieldType.STRING else _number_check(field)
        rules.append(FieldRule(field.name, field.required, bool(fd.has_presence), check))
    return EntityRules(spec, olist_pb2.Entity.Name(spec.entity_enum), tuple(rules))


@dataclass(frozen=True, slots=True)
class Catalog:
    """Every entity's rules, by payload field name and by Entity enum value."""

    by_payload: dict[str, EntityRules]
    by_enum: dict[int, EntityRules]


@cache
def catalog() -> Catalog:
    built = [_entity_rules(spec) for spec in entities()]
    return Catalog({r.spec.payload_field: r for r in built}, {r.spec.entity_enum: r for r in built})


@dataclass(frozen=True, slots=True)
class Checked:
    """An event that passed every check: its entity's rules and its record."""

    rules: EntityRules
    record: Record


def check_event(event: olist_pb2.Event) -> Checked | str:
    """The event's entity and record, or the reason it is rejected."""
    if not event.event_id:
        return "event_id: is required"
    payload_field = event.WhichOneof("payload")
    if payload_field is None:
        return "payload: no record set (set exactly one of the payload fields)"
    known = catalog()
    by_payload = known.by_payload.get(payload_field)
    if by_payload is None:
        return f"payload: field {payload_field} is not a known entity"
    if event.entity == olist_pb2.ENTITY_UNSPECIFIED:
        return f"entity: is required ({by_payload.enum_name} for a {payload_field} payload)"
    by_enum = known.by_enum.get(event.entity)
    if by_enum is None:
        return f"entity: unknown value {event.entity}"
    if by_enum is not by_payload:
        return (
            f"entity: {by_enum.enum_name} does not match the {payload_field} payload ({by_payload.enum_name})"
        )
    record = by_payload.record(getattr(event, payload_field))
    if isinstance(record, str):
        return record
    return Checked(by_payload, record)
