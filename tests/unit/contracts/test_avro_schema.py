"""schemas_avro: Avro record schemas from the proto contracts, and the JSON Schema rules."""

from __future__ import annotations

import fastavro
import orjson
import pytest

from keystone_nexus.contracts import avro_schema as schemas_avro
from keystone_nexus.contracts import entities as contracts
from keystone_nexus.contracts import json_schema as schemas
from keystone_nexus.contracts.arrow_schema import arrow_schema
from keystone_nexus.contracts.entities import EntitySpec, FieldType

ENTITIES = contracts.entities()
AVRO_OF = {FieldType.STRING: "string", FieldType.INTEGER: "long", FieldType.NUMBER: "double"}


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.name)
def test_every_schema_parses_and_matches_the_proto(entity: EntitySpec) -> None:
    schema = schemas_avro.avro_schema(entity)
    parsed = fastavro.parse_schema(schema)
    assert isinstance(parsed, dict)
    assert parsed["name"] == f"keystone.olist.v1.{entity.message_name}"
    assert schema["type"] == "record"
    assert schema["name"] == entity.message_name
    assert schema["namespace"] == "keystone.olist.v1"
    assert [f["name"] for f in schema["fields"]] == list(entity.columns)
    for spec, field in zip(entity.fields, schema["fields"], strict=True):
        if spec.required:
            assert field == {"name": spec.name, "type": AVRO_OF[spec.type]}
        else:
            assert field == {"name": spec.name, "type": ["null", AVRO_OF[spec.type]], "default": None}


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.name)
def test_definition_is_canonical_and_parses(entity: EntitySpec) -> None:
    text = schemas_avro.avro_definition(entity)
    assert text == schemas_avro.avro_definition(entity)
    assert text == orjson.dumps(schemas_avro.avro_schema(entity)).decode()
    assert orjson.loads(text) == schemas_avro.avro_schema(entity)
    fastavro.parse_schema(orjson.loads(text))


def test_all_definitions_are_keyed_by_schema_name() -> None:
    definitions = schemas_avro.all_avro_definitions()
    assert list(definitions) == [e.schema_name for e in ENTITIES]
    assert all(definitions[e.schema_name] == schemas_avro.avro_definition(e) for e in ENTITIES)
    assert len(set(definitions.values())) == len(ENTITIES)


def test_known_schema_text() -> None:
    text = schemas_avro.avro_definition(contracts.entity("category_translation"))
    assert text == (
        '{"type":"record","name":"CategoryTranslation","namespace":"keystone.olist.v1",'
        '"doc":"Olist category_translation (product_category_name_translation.csv), '
        'topic olist.category_translation.v1",'
        '"fields":[{"name":"product_category_name","type":"string"},'
        '{"name":"product_category_name_english","type":"string"}]}'
    )


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.name)
def test_rules_are_the_json_schema_with_the_avro_field_names(entity: EntitySpec) -> None:
    rules = schemas_avro.rules_schema(entity)
    assert rules == schemas.definition(schemas.entity_schema(entity))
    assert rules == schemas.all_definitions()[entity.schema_name]
    fields = [f["name"] for f in schemas_avro.avro_schema(entity)["fields"]]
    assert arrow_schema(rules).names == fields
