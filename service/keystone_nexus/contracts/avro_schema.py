"""Avro schemas for the registry's AVRO data format, derived from the proto descriptors.

The AWS serdes can write a record as schemaless Avro binary behind the Glue header; the
registry version is then the writer schema. One record schema per entity: name = the
proto message name, namespace `keystone.olist.v1`, one field per Olist column (string ->
"string", integer -> "long", number -> "double"); a field that is not required is
`["null", T]` with default null. The text is canonical (fixed key order, compact), so the
same protos always give the same bytes, as in `keystone_nexus.contracts.json_schema`.

Avro types carry no rules (enums, bounds, lengths, patterns): those stay in the
entity's JSON Schema, which `rules_schema` returns for the sink to check decoded AVRO
records against (see `keystone_nexus.contracts.avro_batch`).
"""

from __future__ import annotations

from typing import Any

import orjson

from keystone_nexus.contracts import json_schema as schemas
from keystone_nexus.contracts.entities import EntitySpec, FieldSpec, FieldType, entities

__all__ = [
    "AVRO_TYPES",
    "NAMESPACE",
    "all_avro_definitions",
    "avro_definition",
    "avro_schema",
    "rules_schema",
]

NAMESPACE = "keystone.olist.v1"

AVRO_TYPES: dict[FieldType, str] = {
    FieldType.STRING: "string",
    FieldType.INTEGER: "long",
    FieldType.NUMBER: "double",
}


def field_schema(spec: FieldSpec) -> dict[str, Any]:
    """The Avro field of one column; a column that is not required is nullable, default null."""
    kind = AVRO_TYPES[spec.type]
    if spec.required:
        return {"name": spec.name, "type": kind}
    return {"name": spec.name, "type": ["null", kind], "default": None}


def avro_schema(entity: EntitySpec) -> dict[str, Any]:
    """The Avro record schema of `entity`, with the Olist column names as fields."""
    return {
        "type": "record",
        "name": entity.message_name,
        "namespace": NAMESPACE,
        "doc": f"Olist {entity.name} ({entity.csv_file}), topic {entity.topic}",
        "fields": [field_schema(f) for f in entity.fields],
    }


def avro_definition(entity: EntitySpec) -> str:
    """The canonical text of `entity`'s Avro schema, as stored in the registry."""
    return orjson.dumps(avro_schema(entity)).decode()


def all_avro_definitions() -> dict[str, str]:
    """Schema name -> canonical Avro schema text, for every entity."""
    return {e.schema_name: avro_definition(e) for e in entities()}


def rules_schema(entity: EntitySpec) -> str:
    """The entity's JSON Schema text: the rules decoded AVRO records must also satisfy."""
    return schemas.definition(schemas.entity_schema(entity))


def avro_schema_name(entity: EntitySpec) -> str:
    """The registry name of the entity's Avro schema: a Glue schema has one data format,
    so the Avro twin of `olist.orders.v1` is `olist.orders.v1.avro`."""
    return f"{entity.schema_name}.avro"
