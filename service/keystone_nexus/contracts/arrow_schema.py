"""The Arrow schema of a registry JSON Schema: one typed column per property.

Only the flat shape that `keystone_nexus.contracts.json_schema` generates is supported: an object
whose properties are strings, integers or numbers, each possibly nullable, and no other
properties. Anything else raises UnsupportedSchemaError, because such records could not
be written as these columns without losing data.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson
import pyarrow as pa

from keystone_nexus.errors import ExitStatus, NexusError

ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
}


class UnsupportedSchemaError(NexusError, ValueError):
    """A JSON Schema the bronze sink cannot turn into columns; the message names the part.

    Fatal for every record of that schema version: fix the schema (flat object, string /
    integer / number properties, "additionalProperties": false) and register it again.
    """

    exit_status = ExitStatus.DATA


@lru_cache(maxsize=512)
def arrow_schema(definition: str) -> pa.Schema:
    """Arrow schema for a JSON Schema of the shape schemas.py generates: string -> pa.string(),
    integer -> pa.int64(), number -> pa.float64(); nullability from 'required' / type lists.

    A column is non-nullable only when its property is required and its type does not
    allow null. Cached by definition text.
    """
    schema = orjson.loads(definition)
    properties = object_properties(schema)
    required = set(schema.get("required", ()))
    fields = []
    for name, prop in properties.items():
        kind, null_allowed = json_type(name, prop)
        fields.append(pa.field(name, ARROW_TYPES[kind], nullable=null_allowed or name not in required))
    return pa.schema(fields)


def object_properties(schema: Any) -> dict[str, Any]:
    """The `properties` of a flat object schema, after checking that it is one."""
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise UnsupportedSchemaError('the schema must be {"type": "object", ...}')
    properties = schema.get("properties")
    if not isinstance(properties, dict) or not properties:
        raise UnsupportedSchemaError("the schema must list its columns under 'properties'")
    if schema.get("additionalProperties") is not False or "patternProperties" in schema:
        raise UnsupportedSchemaError(
            'the schema must say "additionalProperties": false (and have no patternProperties): '
            "fields without a column would be lost"
        )
    required = schema.get("required", [])
    if not isinstance(required, list):
        raise UnsupportedSchemaError("'required' must be a list of property names")
    unknown = [name for name in required if name not in properties]
    if unknown:
        raise UnsupportedSchemaError(f"required fields {unknown} are not among the properties")
    return properties


def json_type(name: str, prop: Any) -> tuple[str, bool]:
    """(the property's JSON type: string, integer or number; whether null is allowed too)."""
    declared = prop.get("type") if isinstance(prop, dict) else None
    types = [declared] if isinstance(declared, str) else declared
    if not isinstance(types, list):
        raise UnsupportedSchemaError(f"property {name!r} must declare a 'type'")
    kinds = [t for t in types if t != "null"]
    if len(kinds) != 1 or kinds[0] not in ARROW_TYPES:
        raise UnsupportedSchemaError(
            f"property {name!r} has type {declared!r}; supported: one of string, integer, number, "
            "optionally with null"
        )
    return kinds[0], "null" in types
