from labelops.datasets.v1 import datasets_pb2 as _datasets_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DatasetVersionCreated(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: _datasets_pb2.DatasetVersion
    def __init__(self, version: _Optional[_Union[_datasets_pb2.DatasetVersion, _Mapping]] = ...) -> None: ...
