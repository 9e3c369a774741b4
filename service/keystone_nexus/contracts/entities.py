"""The event contracts, read from the protobuf descriptors in protos/.

Everything else that needs to know an entity's fields, topic, Kafka key or CSV file
asks this module, so the protos stay the single source of truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from keystone.olist.v1 import olist_pb2, options_pb2
from keystone_nexus.errors import ExitStatus, NexusError

TOPIC_PREFIX = "olist."
TOPIC_SUFFIX = ".v1"


class FieldType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"


_PROTO_TYPES = {
    FieldDescriptor.TYPE_STRING: FieldType.STRING,
    FieldDescriptor.TYPE_INT32: FieldType.INTEGER,
    FieldDescriptor.TYPE_INT64: FieldType.INTEGER,
    FieldDescriptor.TYPE_UINT32: FieldType.INTEGER,
    FieldDescriptor.TYPE_DOUBLE: FieldType.NUMBER,
    FieldDescriptor.TYPE_FLOAT: FieldType.NUMBER,
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One column of an entity, as it appears on the wire and in the CSV."""

    name: str
    type: FieldType
    required: bool
    format: str = ""
    enum: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class EntitySpec:
    """One Olist entity: its message, topic, key and CSV file."""

    name: str
    message_name: str
    csv_file: str
    key_fields: tuple[str, ...]
    fields: tuple[FieldSpec, ...]
    payload_field: str
    entity_enum: int

    @property
    def topic(self) -> str:
        return f"{TOPIC_PREFIX}{self.name}{TOPIC_SUFFIX}"

    @property
    def schema_name(self) -> str:
        """The name of this entity's schema in the registry (the topic name)."""
        return self.topic

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> FieldSpec:
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(f"{self.name} has no field {name!r}")

    def message_class(self) -> type[Message]:
        cls: type[Message] = getattr(olist_pb2, self.message_name)
        return cls


class UnknownEntityError(NexusError, KeyError):
    """An entity or topic name that the contracts do not define."""

    exit_status = ExitStatus.USAGE

    def __str__(self) -> str:  # the message, not KeyError's repr of it
        return str(self.args[0]) if self.args else ""


def _field_spec(fd: FieldDescriptor) -> FieldSpec:
    if fd.type not in _PROTO_TYPES:
        raise TypeError(f"{fd.full_name}: unsupported proto type {fd.type}")
    rules: options_pb2.FieldRules = fd.GetOptions().Extensions[options_pb2.field]  # type: ignore[index]
    return FieldSpec(
        name=fd.name,
        type=_PROTO_TYPES[fd.type],
        required=rules.required,
        format=rules.format,
        enum=tuple(rules.enum),
        minimum=rules.minimum if rules.HasField("minimum") else None,
        maximum=rules.maximum if rules.HasField("maximum") else None,
        max_length=rules.max_length if rules.HasField("max_length") else None,
    )


def _entity_spec(descriptor: Any, payload_field: str, entity_enum: int) -> EntitySpec:
    rules: options_pb2.EntityRules = descriptor.GetOptions().Extensions[options_pb2.entity]
    fields = tuple(_field_spec(fd) for fd in descriptor.fields)
    names = {f.name for f in fields}
    missing = [k for k in rules.key_fields if k not in names]
    if not rules.name or not rules.csv_file or not rules.key_fields or missing:
        raise ValueError(f"{descriptor.full_name}: incomplete (entity) options, missing {missing}")
    return EntitySpec(
        name=rules.name,
        message_name=descriptor.name,
        csv_file=rules.csv_file,
        key_fields=tuple(rules.key_fields),
        fields=fields,
        payload_field=payload_field,
        entity_enum=entity_enum,
    )


@cache
def entities() -> tuple[EntitySpec, ...]:
    """Every entity, in the order of the Event payload oneof."""
    event = olist_pb2.Event.DESCRIPTOR
    enum = olist_pb2.Entity.DESCRIPTOR
    specs = []
    for fd in event.oneofs_by_name["payload"].fields:
        message = fd.message_type
        if message is None:
            raise TypeError(f"Event.{fd.name} is not a message field")
        rules: options_pb2.EntityRules = message.GetOptions().Extensions[options_pb2.entity]  # type: ignore[index]
        name = rules.name
        enum_value = enum.values_by_name[f"ENTITY_{name.upper()}"].number
        specs.append(_entity_spec(message, fd.name, enum_value))
    return tuple(specs)


def entity(name: str) -> EntitySpec:
    """The entity called `name` (e.g. "orders")."""
    for spec in entities():
        if spec.name == name:
            return spec
    known = ", ".join(e.name for e in entities())
    raise UnknownEntityError(f"unknown entity {name!r}; known: {known}")


def entity_for_topic(topic: str) -> EntitySpec:
    for spec in entities():
        if spec.topic == topic:
            return spec
    raise UnknownEntityError(f"topic {topic!r} is not an olist.<entity>.v1 topic")


def entity_for_enum(value: int) -> EntitySpec:
    for spec in entities():
        if spec.entity_enum == value:
            return spec
    raise UnknownEntityError(f"entity enum value {value} is not known")


def topics() -> tuple[str, ...]:
    return tuple(e.topic for e in entities())
