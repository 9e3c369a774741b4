from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor
FIELD_FIELD_NUMBER: _ClassVar[int]
field: _descriptor.FieldDescriptor
ENTITY_FIELD_NUMBER: _ClassVar[int]
entity: _descriptor.FieldDescriptor

class FieldRules(_message.Message):
    __slots__ = ("required", "format", "enum", "minimum", "maximum", "max_length")
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    ENUM_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_FIELD_NUMBER: _ClassVar[int]
    MAXIMUM_FIELD_NUMBER: _ClassVar[int]
    MAX_LENGTH_FIELD_NUMBER: _ClassVar[int]
    required: bool
    format: str
    enum: _containers.RepeatedScalarFieldContainer[str]
    minimum: float
    maximum: float
    max_length: int
    def __init__(self, required: _Optional[bool] = ..., format: _Optional[str] = ..., enum: _Optional[_Iterable[str]] = ..., minimum: _Optional[float] = ..., maximum: _Optional[float] = ..., max_length: _Optional[int] = ...) -> None: ...

class EntityRules(_message.Message):
    __slots__ = ("name", "csv_file", "key_fields")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CSV_FILE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELDS_FIELD_NUMBER: _ClassVar[int]
    name: str
    csv_file: str
    key_fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., csv_file: _Optional[str] = ..., key_fields: _Optional[_Iterable[str]] = ...) -> None: ...
