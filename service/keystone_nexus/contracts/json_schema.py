"""JSON Schemas (draft-07) for the registry, derived from the proto descriptors.

One schema per entity; property names are the Olist column names. The schema text is
canonical (fixed key order, compact), so the same protos always give the same bytes and
registering it again is recognised as the same version.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson

from keystone_nexus.contracts.entities import EntitySpec, FieldSpec, FieldType, entities

DRAFT_07 = "http://json-schema.org/draft-07/schema#"

# The named wire formats of options.proto, as JSON Schema patterns.
FORMAT_PATTERNS: dict[str, str] = {
    "timestamp": r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$",
    "md5_id": r"^[0-9a-f]{32}$",
    "zip_prefix": r"^[0-9]{5}$",
    "state": r"^[A-Z]{2}$",
}


def field_schema(spec: FieldSpec) -> dict[str, Any]:
    """The JSON Schema of one property; fields that are not required may be null."""
    schema: dict[str, Any] = {"type": spec.type.value if spec.required else [spec.type.value, "null"]}
    if spec.format:
        if spec.format not in FORMAT_PATTERNS:
            raise ValueError(f"{spec.name}: unknown format {spec.format!r}")
        schema["pattern"] = FORMAT_PATTERNS[spec.format]
    if spec.enum:
        schema["enum"] = list(spec.enum) if spec.required else [*spec.enum, None]
    if spec.minimum is not None:
        schema["minimum"] = _number(spec.minimum, spec.type)
    if spec.maximum is not None:
        schema["maximum"] = _number(spec.maximum, spec.type)
    if spec.max_length is not None:
        schema["maxLength"] = spec.max_length
    return schema


def _number(value: float, kind: FieldType) -> float | int:
    return int(value) if kind is FieldType.INTEGER or value.is_integer() else value


def entity_schema(entity: EntitySpec) -> dict[str, Any]:
    return {
        "$schema": DRAFT_07,
        "$id": f"urn:keystone-nexus:schema:{entity.schema_name}",
        "title": entity.message_name,
        "description": f"Olist {entity.name} ({entity.csv_file}), topic {entity.topic}",
        "type": "object",
        "properties": {f.name: field_schema(f) for f in entity.fields},
        "required": [f.name for f in entity.fields if f.required],
        "additionalProperties": False,
    }


def definition(schema: dict[str, Any]) -> str:
    """The canonical text of a schema, as stored in the registry."""
    return orjson.dumps(schema).decode()


@cache
def entity_definition(entity: EntitySpec) -> str:
    """The canonical JSON Schema text of one entity (built once per process)."""
    return definition(entity_schema(entity))


def all_definitions() -> dict[str, str]:
    """Schema name -> canonical JSON Schema text, for every entity."""
    return {e.schema_name: entity_definition(e) for e in entities()}
