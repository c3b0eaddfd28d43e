import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ActorKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACTOR_KIND_UNSPECIFIED: _ClassVar[ActorKind]
    ACTOR_KIND_USER: _ClassVar[ActorKind]
    ACTOR_KIND_VENDOR: _ClassVar[ActorKind]
    ACTOR_KIND_MODEL: _ClassVar[ActorKind]
    ACTOR_KIND_SERVICE: _ClassVar[ActorKind]
ACTOR_KIND_UNSPECIFIED: ActorKind
ACTOR_KIND_USER: ActorKind
ACTOR_KIND_VENDOR: ActorKind
ACTOR_KIND_MODEL: ActorKind
ACTOR_KIND_SERVICE: ActorKind

class Actor(_message.Message):
    __slots__ = ("kind", "id")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    kind: ActorKind
    id: str
    def __init__(self, kind: _Optional[_Union[ActorKind, str]] = ..., id: _Optional[str] = ...) -> None: ...

class EventEnvelope(_message.Message):
    __slots__ = ("event_id", "type", "stream_id", "stream_version", "tenant_id", "actor", "occurred_at", "correlation_id", "causation_id", "traceparent", "payload", "position", "source")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    STREAM_VERSION_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    CAUSATION_ID_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    type: str
    stream_id: str
    stream_version: int
    tenant_id: str
    actor: Actor
    occurred_at: _timestamp_pb2.Timestamp
    correlation_id: str
    causation_id: str
    traceparent: str
    payload: bytes
    position: int
    source: str
    def __init__(self, event_id: _Optional[str] = ..., type: _Optional[str] = ..., stream_id: _Optional[str] = ..., stream_version: _Optional[int] = ..., tenant_id: _Optional[str] = ..., actor: _Optional[_Union[Actor, _Mapping]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., correlation_id: _Optional[str] = ..., causation_id: _Optional[str] = ..., traceparent: _Optional[str] = ..., payload: _Optional[bytes] = ..., position: _Optional[int] = ..., source: _Optional[str] = ...) -> None: ...
