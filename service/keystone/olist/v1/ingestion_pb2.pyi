from keystone.olist.v1 import olist_pb2 as _olist_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PublishRequest(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_olist_pb2.Event]
    def __init__(self, events: _Optional[_Iterable[_Union[_olist_pb2.Event, _Mapping]]] = ...) -> None: ...

class EventResult(_message.Message):
    __slots__ = ("index", "event_id", "accepted", "reason", "topic", "partition", "offset")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    index: int
    event_id: str
    accepted: bool
    reason: str
    topic: str
    partition: int
    offset: int
    def __init__(self, index: _Optional[int] = ..., event_id: _Optional[str] = ..., accepted: _Optional[bool] = ..., reason: _Optional[str] = ..., topic: _Optional[str] = ..., partition: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class PublishResponse(_message.Message):
    __slots__ = ("results", "accepted", "rejected")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[EventResult]
    accepted: int
    rejected: int
    def __init__(self, results: _Optional[_Iterable[_Union[EventResult, _Mapping]]] = ..., accepted: _Optional[int] = ..., rejected: _Optional[int] = ...) -> None: ...
